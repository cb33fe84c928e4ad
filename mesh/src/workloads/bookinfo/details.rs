//! details: `GET /details/<id>` answers the book's facts as JSON (id, author, year, type,
//! pages, publisher, language, ISBN-10, ISBN-13); `/health` says it is healthy.

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::server::{self, HttpRequest, Site};

/// The details service.
#[derive(Debug, Default)]
pub struct Details;

/// The details of book `id` (every id describes the same book, as in Bookinfo).
pub fn book_details(id: i64) -> Value {
    json!({
        "id": id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    })
}

fn route(req: &HttpRequest) -> Response<Full<Bytes>> {
    let path = req.path();
    if req.method != Method::GET && req.method != Method::HEAD {
        return server::json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"error": format!("{} is not supported; use GET", req.method)}),
        );
    }
    if path == "/health" {
        return server::json(StatusCode::OK, &json!({"status": "Details is healthy"}));
    }
    match path.strip_prefix("/details/") {
        Some(id) => match id.parse::<i64>() {
            Ok(id) => server::json(StatusCode::OK, &book_details(id)),
            Err(_) => server::json(
                StatusCode::BAD_REQUEST,
                &json!({"error": "please provide numeric product id"}),
            ),
        },
        None => server::json(
            StatusCode::NOT_FOUND,
            &json!({"error": format!("no such resource: {path}; try /details/0")}),
        ),
    }
}

impl Site for Details {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        route(req)
    }

    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String> {
        Some(super::access_line(req, resp))
    }
}
