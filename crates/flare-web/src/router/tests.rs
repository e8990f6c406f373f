use super::*;
use crate::extract::{Cookies, Form, Path, Query, Rejection, State};
use crate::{Json, Redirect};
use http::Method;

fn call(r: &Router, method: Method, uri: &str) -> Response {
    let mut req = Request::builder().method(method).uri(uri).build();
    r.handle(&mut req)
}

fn body(resp: &Response) -> String {
    String::from_utf8(resp.body_bytes().unwrap().to_vec()).unwrap()
}

fn text(t: &'static str) -> impl Fn(&Request) -> Response + Clone + Send + Sync + 'static {
    move |_req: &Request| Response::text(t)
}

fn echo_params(req: &Request) -> String {
    let p: Vec<String> = req.params().map(|(k, v)| format!("{k}={v}")).collect();
    p.join(",")
}

#[test]
fn precedence_is_static_param_catch_all_in_any_insertion_order() {
    let build = |order: &[usize]| {
        let routes: [(&str, &'static str); 4] = [
            ("/files/{*rest}", "catch"),
            ("/files/{name}", "param"),
            ("/files/index", "static"),
            ("/files/{name}/raw", "raw"),
        ];
        let mut r = Router::new();
        for &i in order {
            let (p, t) = routes[i];
            r = r.get(p, text(t));
        }
        r
    };
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
        let r = build(&order);
        assert_eq!(body(&call(&r, Method::GET, "/files/index")), "static");
        assert_eq!(body(&call(&r, Method::GET, "/files/a.txt")), "param");
        assert_eq!(body(&call(&r, Method::GET, "/files/a/raw")), "raw");
        assert_eq!(body(&call(&r, Method::GET, "/files/index/raw")), "raw");
        assert_eq!(body(&call(&r, Method::GET, "/files/a/b/c")), "catch");
        assert_eq!(call(&r, Method::GET, "/files").status(), 404);
    }
}

#[test]
fn params_are_recorded_and_percent_decoded() {
    let r = Router::new()
        .get("/users/{id}/posts/{post}", echo_params)
        .get("/files/{*path}", echo_params);
    assert_eq!(
        body(&call(&r, Method::GET, "/users/7/posts/x%20y?q=1")),
        "id=7,post=x y"
    );
    assert_eq!(
        body(&call(&r, Method::GET, "/files/a/b%2Fc/%C3%A9+")),
        "path=a/b/c/é+"
    );
    // Invalid UTF-8 after decoding, and a malformed escape: 400, handler not run.
    for bad in [
        "/users/%FF/posts/1",
        "/users/1/posts/%E2%82",
        "/users/%G1/posts/1",
        "/files/a%2",
    ] {
        let resp = call(&r, Method::GET, bad);
        assert_eq!(resp.status(), 400, "{bad}");
        assert_eq!(body(&resp), "invalid path parameter");
    }
}

#[test]
fn not_found_method_not_allowed_head_options() {
    let r = Router::new()
        .route(
            "/item",
            get(text("got")).post(text("posted")).delete(text("gone")),
        )
        .post("/only-post", text("p"));
    assert_eq!(call(&r, Method::GET, "/nope").status(), 404);
    let resp = call(&r, Method::PUT, "/item");
    assert_eq!(resp.status(), 405);
    assert_eq!(
        resp.header("allow").unwrap(),
        "GET, HEAD, POST, DELETE, OPTIONS"
    );
    let resp = call(&r, Method::GET, "/only-post");
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.header("allow").unwrap(), "POST, OPTIONS");
    // HEAD runs the GET handler; the driver drops the body and keeps its length.
    let resp = call(&r, Method::HEAD, "/item");
    assert_eq!((resp.status().as_u16(), body(&resp)), (200, "got".into()));
    assert_eq!(call(&r, Method::HEAD, "/only-post").status(), 405);
    let resp = call(&r, Method::OPTIONS, "/item");
    assert_eq!(resp.status(), 204);
    assert_eq!(
        resp.header("allow").unwrap(),
        "GET, HEAD, POST, DELETE, OPTIONS"
    );
    assert_eq!(call(&r, Method::OPTIONS, "*").status(), 204);
    assert_eq!(body(&call(&r, Method::DELETE, "/item")), "gone");
}

#[test]
fn explicit_head_options_and_any() {
    let r = Router::new().route(
        "/x",
        get(text("get"))
            .head(|_: &Request| {
                Response::new(StatusCode::OK).with_header(
                    http::header::HeaderName::from_static("x-head"),
                    http::HeaderValue::from_static("1"),
                )
            })
            .options(text("opts")),
    );
    assert!(call(&r, Method::HEAD, "/x").header("x-head").is_some());
    assert_eq!(body(&call(&r, Method::OPTIONS, "/x")), "opts");
    let r = Router::new().route("/y", get(text("get")).any(text("any")));
    assert_eq!(body(&call(&r, Method::GET, "/y")), "get");
    assert_eq!(body(&call(&r, Method::PATCH, "/y")), "any");
    assert_eq!(body(&call(&r, Method::HEAD, "/y")), "get");
    let r = Router::new().any("/z", |req: &Request| req.method().to_string());
    assert_eq!(
        body(&call(&r, Method::from_bytes(b"PURGE").unwrap(), "/z")),
        "PURGE"
    );
    let r = Router::new().route(
        "/c",
        on(Method::from_bytes(b"PURGE").unwrap(), text("purged")),
    );
    assert_eq!(
        call(&r, Method::GET, "/c").header("allow").unwrap(),
        "PURGE, OPTIONS"
    );
}

#[test]
fn nest_merge_and_fallbacks() {
    let users = Router::new()
        .get("/", text("list"))
        .get("/{id}", echo_params)
        .fallback(text("users fallback"));
    let api = Router::new()
        .nest("/users", users)
        .get("/health", text("ok"));
    let r = Router::new()
        .get("/", text("root"))
        .nest("/api", api)
        .merge(Router::new().get("/about", text("about")))
        .fallback(|req: &Request| (StatusCode::NOT_FOUND, format!("no {}", req.path().len())));
    assert_eq!(body(&call(&r, Method::GET, "/")), "root");
    assert_eq!(body(&call(&r, Method::GET, "/api/users")), "list");
    assert_eq!(body(&call(&r, Method::GET, "/api/users/9")), "id=9");
    assert_eq!(body(&call(&r, Method::GET, "/api/health")), "ok");
    assert_eq!(body(&call(&r, Method::GET, "/about")), "about");
    assert_eq!(
        body(&call(&r, Method::GET, "/api/users/9/x")),
        "users fallback"
    );
    assert_eq!(body(&call(&r, Method::GET, "/api/usersX")), "no 11");
    let resp = call(&r, Method::GET, "/api/nothing");
    assert_eq!((resp.status().as_u16(), body(&resp)), (404, "no 12".into()));
    let patterns: Vec<&str> = r.patterns().collect();
    assert_eq!(
        patterns,
        [
            "/",
            "/api/users",
            "/api/users/{id}",
            "/api/health",
            "/about"
        ]
    );
}

#[test]
fn merge_combines_methods_on_one_path() {
    let r = Router::new()
        .get("/x", text("g"))
        .merge(Router::new().post("/x", text("p")));
    assert_eq!(body(&call(&r, Method::POST, "/x")), "p");
    assert_eq!(body(&call(&r, Method::GET, "/x")), "g");
}

#[test]
#[should_panic(expected = "already registered")]
fn duplicate_method_panics_at_build() {
    let _: Router = Router::new().get("/x", text("a")).get("/x", text("b"));
}

#[test]
#[should_panic(expected = "already named")]
fn conflicting_param_names_panic_at_build() {
    let _: Router = Router::new()
        .get("/u/{id}", text("a"))
        .get("/u/{name}/x", text("b"));
}

#[test]
#[should_panic(expected = "must start with")]
fn pattern_without_slash_panics() {
    let _: Router = Router::new().get("x", text("a"));
}

#[test]
fn trailing_slash_strict_and_redirect() {
    let r = Router::new().get("/a", text("a")).get("/b/", text("b"));
    assert_eq!(call(&r, Method::GET, "/a/").status(), 404);
    assert_eq!(call(&r, Method::GET, "/b").status(), 404);
    let r = r.trailing_slash(TrailingSlash::Redirect);
    let resp = call(&r, Method::GET, "/a/?x=1");
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.header("location").unwrap(), "/a?x=1");
    let resp = call(&r, Method::POST, "/b");
    assert_eq!(resp.status(), 308);
    assert_eq!(resp.header("location").unwrap(), "/b/");
    assert_eq!(call(&r, Method::GET, "/c/").status(), 404);
    // `//evil.example/` must not become `Location: //evil.example`.
    let r = Router::new()
        .get("/{*any}", text("x"))
        .trailing_slash(TrailingSlash::Redirect);
    assert_eq!(call(&r, Method::GET, "//evil.example/").status(), 200);
    let r = Router::new()
        .get("/evil.example", text("x"))
        .trailing_slash(TrailingSlash::Redirect);
    assert_eq!(call(&r, Method::GET, "//evil.example/").status(), 404);
}

#[test]
fn body_limits_per_route() {
    let r = Router::new()
        .route("/small", post(text("s")).body_limit(10))
        .post("/default", text("d"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/small")
        .build();
    assert_eq!(r.body_limit(&req), Some(10));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/default")
        .build();
    assert_eq!(r.body_limit(&req), None);
    let req = Request::builder().uri("/missing").build();
    assert_eq!(r.body_limit(&req), None);
    let plain = Router::new().post("/x", text("x"));
    let req = Request::builder().uri("/x").build();
    assert_eq!(plain.body_limit(&req), None);
}

#[derive(serde::Deserialize, serde::Serialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(serde::Deserialize)]
struct Paging {
    page: Option<u32>,
}

#[derive(Clone)]
struct Db {
    prefix: &'static str,
}

fn get_user(Path(id): Path<u64>, Query(q): Query<Paging>, State(db): State<Db>) -> Json<User> {
    Json(User {
        id,
        name: format!("{}{}", db.prefix, q.page.unwrap_or(0)),
    })
}

fn create(Json(u): Json<User>) -> (StatusCode, Json<User>) {
    (StatusCode::CREATED, Json(u))
}

fn login(Form(f): Form<std::collections::HashMap<String, String>>, c: Cookies) -> Redirect {
    let _ = (f, c);
    Redirect::to("/home")
}

fn checked(p: Result<Path<u8>, Rejection>, q: Option<Query<Paging>>) -> String {
    match p {
        Ok(Path(n)) => format!("ok {n} {}", q.is_some()),
        Err(e) => format!("rejected {}", e.status().as_u16()),
    }
}

#[allow(clippy::too_many_arguments)]
fn twelve(
    _a: Method,
    _b: Method,
    _c: Method,
    _d: Method,
    _e: Method,
    _f: Method,
    _g: Method,
    _h: Method,
    _i: Method,
    _j: Method,
    _k: Method,
    l: Method,
) -> String {
    l.to_string()
}

fn nothing() {}

#[test]
fn extractor_handlers_with_state() {
    let app = crate::App::new(Db { prefix: "p" }).router(
        Router::new()
            .get("/users/{id}", get_user)
            .post("/users", create)
            .post("/login", login)
            .get("/checked/{n}", checked)
            .get("/twelve", twelve)
            .get("/nothing", nothing),
    );
    let mut req = Request::builder().uri("/users/5?page=3").build();
    let resp = app.handle(&mut req);
    assert_eq!(body(&resp), r#"{"id":5,"name":"p3"}"#);
    let mut req = Request::builder().uri("/users/five").build();
    let resp = app.handle(&mut req);
    assert_eq!(
        (resp.status().as_u16(), body(&resp)),
        (400, "invalid path parameter".into())
    );
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/users")
        .header("content-type", "application/json")
        .body(r#"{"id":1,"name":"n"}"#)
        .build();
    let resp = app.handle(&mut req);
    assert_eq!(resp.status(), 201);
    assert_eq!(body(&resp), r#"{"id":1,"name":"n"}"#);
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/users")
        .body(r#"{"id":1,"name":"n"}"#)
        .build();
    assert_eq!(app.handle(&mut req).status(), 415);
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("u=a")
        .build();
    let resp = app.handle(&mut req);
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.header("location").unwrap(), "/home");
    let mut req = Request::builder().uri("/checked/300").build();
    assert_eq!(body(&app.handle(&mut req)), "rejected 400");
    let mut req = Request::builder().uri("/checked/30?page=x").build();
    assert_eq!(body(&app.handle(&mut req)), "ok 30 false");
    let mut req = Request::builder().uri("/twelve").build();
    assert_eq!(body(&app.handle(&mut req)), "GET");
    let mut req = Request::builder().uri("/nothing").build();
    let resp = app.handle(&mut req);
    assert_eq!(
        (resp.status().as_u16(), resp.body().len_hint()),
        (200, Some(0))
    );
}

#[test]
fn handler_services_are_mounted() {
    // A mounted handler sees the whole path (no prefix is stripped).
    let inner = Router::new().any("/svc", text("inner"));
    let r = Router::new()
        .mount("/svc", inner)
        .route("/h", get(HandlerService(|_: &Request| "wrapped")));
    assert_eq!(body(&call(&r, Method::GET, "/svc")), "inner");
    assert_eq!(body(&call(&r, Method::POST, "/svc")), "inner");
    assert_eq!(body(&call(&r, Method::GET, "/h")), "wrapped");
}

#[test]
fn router_is_shared_not_copied() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Router>();
    assert_traits::<Router<Db>>();
    assert_traits::<crate::App<Db>>();
    let r = Router::new().get("/", text("x"));
    let c = r.clone();
    assert!(Arc::ptr_eq(&r.table, &c.table));
    // Adding to a shared router copies the table instead of changing the other.
    let d = c.get("/y", text("y"));
    assert_eq!(call(&r, Method::GET, "/y").status(), 404);
    assert_eq!(call(&d, Method::GET, "/y").status(), 200);
}

#[test]
fn stale_params_are_cleared_between_requests() {
    let r = Router::new()
        .get("/a/{x}", echo_params)
        .get("/b", echo_params);
    let mut req = Request::builder().uri("/a/1").build();
    assert_eq!(body(&r.handle(&mut req)), "x=1");
    req.set_target(b"/b");
    assert_eq!(body(&r.handle(&mut req)), "");
}

#[test]
fn nested_fallback_under_a_parameter_prefix() {
    let repo = Router::new()
        .get("/issues", echo_params)
        .fallback(text("repo fallback"));
    let r = Router::new().nest("/orgs/{org}", repo);
    assert_eq!(
        body(&call(&r, Method::GET, "/orgs/acme/issues")),
        "org=acme"
    );
    assert_eq!(
        body(&call(&r, Method::GET, "/orgs/acme/nope")),
        "repo fallback"
    );
    assert_eq!(body(&call(&r, Method::GET, "/orgs/acme")), "repo fallback");
    assert_eq!(call(&r, Method::GET, "/orgs//x").status(), 404);
    assert_eq!(call(&r, Method::GET, "/orgsX/acme").status(), 404);
    assert_eq!(call(&r, Method::GET, "/orgs").status(), 404);
}

#[test]
fn prefix_coverage() {
    assert!(prefix_covers("/api", "/api"));
    assert!(prefix_covers("/api", "/api/"));
    assert!(prefix_covers("/api", "/api/x/y"));
    assert!(!prefix_covers("/api", "/apix"));
    assert!(!prefix_covers("/api", "/"));
    assert!(!prefix_covers("/api", ""));
    assert!(prefix_covers("/a/{b}/c", "/a/1/c/d"));
    assert!(!prefix_covers("/a/{b}/c", "/a//c"));
    assert!(!prefix_covers("/a/{b}/c", "/a/1"));
}

#[test]
fn static_routes_are_found_by_exact_path_whatever_their_number_and_length() {
    // Paths past 16 bytes sharing length, first and last 8 bytes, short paths of
    // every length, and enough routes to be bisected rather than scanned.
    let long = [
        "/aaaaaaa/x/bbbbbbbb",
        "/aaaaaaa/y/bbbbbbbb",
        "/aaaaaaa/z/bbbbbbbb",
    ];
    let short: Vec<String> = (1..=17).map(|n| format!("/{}", "q".repeat(n))).collect();
    let mut r = Router::new()
        .get("/", text("root"))
        .get("/a//b", text("empty segment"));
    for p in long {
        r = r.get(p, move |_req: &Request| Response::text(p));
    }
    for p in &short {
        let body = String::from(p.as_str());
        r = r.get(p, move |_req: &Request| Response::text(body.clone()));
    }
    r = r.get("/{id}/x/bbbbbbbb", echo_params);
    assert_eq!(body(&call(&r, Method::GET, "/")), "root");
    assert_eq!(body(&call(&r, Method::GET, "/a//b")), "empty segment");
    for p in long {
        assert_eq!(body(&call(&r, Method::GET, p)), p);
        assert!(r.matches(p));
    }
    for p in &short {
        assert_eq!(body(&call(&r, Method::GET, p)), *p);
    }
    // Near misses fall through to the trie (a parameter route) or miss.
    assert_eq!(call(&r, Method::GET, "/aaaaaaa/w/bbbbbbbb").status(), 404);
    assert_eq!(
        body(&call(&r, Method::GET, "/aaaaaab/x/bbbbbbbb")),
        "id=aaaaaab"
    );
    assert_eq!(call(&r, Method::GET, "/qqqqqqqqqqqqqqqqqq").status(), 404);
    assert_eq!(call(&r, Method::GET, "/q?x=1").status(), 200);
    assert_eq!(call(&r, Method::GET, "/Q").status(), 404);
    // A short table with paths past 16 bytes sharing their key: scanned, and the
    // bytes compared.
    let r = Router::new()
        .get(long[0], text("x"))
        .get(long[2], text("z"))
        .route("/p", post(text("post")));
    assert_eq!(body(&call(&r, Method::GET, long[0])), "x");
    assert_eq!(body(&call(&r, Method::GET, long[2])), "z");
    assert_eq!(call(&r, Method::GET, long[1]).status(), 404);
    assert!(r.matches(long[2]) && !r.matches(long[1]));
    // A static route without GET: the method router answers.
    assert_eq!(call(&r, Method::GET, "/p").status(), 405);
    assert_eq!(body(&call(&r, Method::POST, "/p")), "post");
    // A static route beats a parameter route for the same path, whichever came first.
    let r = Router::new()
        .get("/users/{id}", echo_params)
        .get("/users/me", text("me"));
    assert_eq!(body(&call(&r, Method::GET, "/users/me")), "me");
    assert_eq!(body(&call(&r, Method::GET, "/users/you")), "id=you");
}

#[test]
fn static_routes_under_nest_and_merge_and_with_body_limits() {
    let api = Router::new()
        .get("/", text("api root"))
        .get("/v1", text("v1"));
    let r = Router::new()
        .nest("/api", api)
        .merge(Router::new().route("/up", post(text("up")).body_limit(10)))
        .route("/up", get(text("up get")));
    assert_eq!(body(&call(&r, Method::GET, "/api")), "api root");
    assert_eq!(body(&call(&r, Method::GET, "/api/v1")), "v1");
    assert_eq!(body(&call(&r, Method::POST, "/up")), "up");
    // GET was added after the route's first handler, HEAD is served by it.
    assert_eq!(body(&call(&r, Method::GET, "/up")), "up get");
    assert_eq!(call(&r, Method::HEAD, "/up").status(), 200);
    let req = Request::builder().method(Method::POST).uri("/up").build();
    assert_eq!(r.route_body_limit(&req), Some(10));
}
