//! ratings: `GET /ratings/<id>` answers `{"id":<id>,"ratings":{"Reviewer1":5,"Reviewer2":4}}`;
//! `POST /ratings/<id>` with a JSON object of reviewer → stars replaces a product's ratings
//! for as long as the container runs; `/health` says it is healthy.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use super::server::{self, HttpRequest, Site};

/// The ratings service, with the ratings posted since it started.
#[derive(Debug, Default)]
pub struct Ratings {
    posted: Mutex<HashMap<i64, Map<String, Value>>>,
}

/// The ratings every product has until others are posted.
pub fn default_ratings() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Reviewer1".into(), json!(5));
    m.insert("Reviewer2".into(), json!(4));
    m
}

fn bad_request(message: &str) -> Response<Full<Bytes>> {
    server::json(StatusCode::BAD_REQUEST, &json!({"error": message}))
}

/// A posted ratings object: reviewer names to whole stars from 0 to 5.
fn parse_ratings(body: &[u8]) -> Option<Map<String, Value>> {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    let valid = !map.is_empty()
        && map
            .values()
            .all(|v| v.as_u64().is_some_and(|stars| stars <= 5));
    valid.then_some(map)
}

impl Ratings {
    fn route(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        let path = req.path();
        let get = req.method == Method::GET || req.method == Method::HEAD;
        if path == "/health" && get {
            return server::json(StatusCode::OK, &json!({"status": "Ratings is healthy"}));
        }
        let Some(id) = path.strip_prefix("/ratings/") else {
            return server::json(
                StatusCode::NOT_FOUND,
                &json!({"error": format!("no such resource: {path}; try /ratings/0")}),
            );
        };
        let Ok(id) = id.parse::<i64>() else {
            return bad_request("please provide numeric product ID");
        };
        let mut posted = self.posted.lock().unwrap_or_else(PoisonError::into_inner);
        if get {
            let ratings = posted.get(&id).cloned().unwrap_or_else(default_ratings);
            server::json(StatusCode::OK, &json!({"id": id, "ratings": ratings}))
        } else if req.method == Method::POST {
            let Some(ratings) = parse_ratings(&req.body) else {
                return bad_request(
                    "please provide the ratings as a JSON object of reviewer to stars (0-5), e.g. {\"Reviewer1\":3}",
                );
            };
            posted.insert(id, ratings.clone());
            server::json(StatusCode::OK, &json!({"id": id, "ratings": ratings}))
        } else {
            server::json(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": format!("{} is not supported; use GET or POST", req.method)}),
            )
        }
    }
}

impl Site for Ratings {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        self.route(req)
    }

    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String> {
        Some(super::access_line(req, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: Method, target: &str, body: &str) -> HttpRequest {
        HttpRequest {
            method,
            uri: target.parse().unwrap(),
            version: "HTTP/1.1",
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_owned()),
            peer: "127.1.0.2:5000".parse().unwrap(),
        }
    }

    fn answer(r: &Ratings, method: Method, target: &str, body: &str) -> (StatusCode, Value) {
        use http_body_util::BodyExt as _;
        let resp = r.route(&request(method, target, body));
        let bytes = futures::executor::block_on(resp.body().clone().collect())
            .unwrap()
            .to_bytes();
        (resp.status(), serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn ratings_answer_posted_ratings_and_reject_bad_ids() {
        let r = Ratings::default();
        assert_eq!(
            answer(&r, Method::GET, "/ratings/0", ""),
            (
                StatusCode::OK,
                json!({"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}})
            )
        );
        assert_eq!(
            answer(&r, Method::GET, "/ratings/abc", "").0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            answer(&r, Method::GET, "/nothing", "").0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            answer(&r, Method::POST, "/ratings/7", r#"{"Reviewer1":1}"#),
            (
                StatusCode::OK,
                json!({"id": 7, "ratings": {"Reviewer1": 1}})
            )
        );
        assert_eq!(
            answer(&r, Method::GET, "/ratings/7", "").1["ratings"],
            json!({"Reviewer1": 1})
        );
        assert_eq!(
            answer(&r, Method::POST, "/ratings/7", r#"{"Reviewer1":9}"#).0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            answer(&r, Method::GET, "/health", "").1["status"],
            "Ratings is healthy"
        );
    }
}
