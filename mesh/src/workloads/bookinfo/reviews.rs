//! reviews v1/v2/v3: `GET /reviews/<id>` answers two reviews as JSON. v1 has no ratings; v2
//! and v3 ask ratings (`GET /ratings/<id>`, forwarding the propagated headers) with a timeout
//! of 10 s (v2) or 2.5 s (v3) and give each review `{"stars":n,"color":"black|red"}`, or
//! `{"error":"Ratings service is currently unavailable"}` when ratings did not answer.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};

use super::server::{self, HttpRequest, Site};
use super::{App, PodContext};
use crate::workloads::client::{self, ClientRequest};

/// What a review says when ratings could not be read.
pub const RATINGS_UNAVAILABLE: &str = "Ratings service is currently unavailable";

/// The reviewers and what they wrote.
const REVIEWS: &[(&str, &str)] = &[
    (
        "Reviewer1",
        "A brisk, very funny evening of twins and mix-ups; the slapstick still lands after four centuries.",
    ),
    (
        "Reviewer2",
        "Great fun and easy to follow, though lighter on depth than Shakespeare's later plays.",
    ),
];

/// How a reviews version treats ratings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatingsCall {
    /// The star colour (`black` or `red`).
    pub color: String,
    /// How long the call to ratings may take.
    pub timeout: Duration,
}

/// Whether and how a reviews version calls ratings (`None`: it does not). The image decides
/// (v1 no ratings, v2 black, v3 red) unless the container sets `ENABLE_RATINGS` or
/// `STAR_COLOR`, the variables the reviews images are built with; as in Bookinfo, black stars
/// wait 10 s for ratings and any other colour 2.5 s.
pub fn ratings_call(
    app: App,
    enable_ratings: Option<&str>,
    star_color: Option<&str>,
) -> Option<RatingsCall> {
    let (enabled, color) = match app {
        App::ReviewsV2 => (true, "black"),
        App::ReviewsV3 => (true, "red"),
        _ => (false, "black"),
    };
    let enabled = enable_ratings.map_or(enabled, |v| v.trim().eq_ignore_ascii_case("true"));
    let color = star_color
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .unwrap_or(color);
    enabled.then(|| RatingsCall {
        color: color.to_owned(),
        timeout: if color == "black" {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(2500)
        },
    })
}

/// The reviews service of one version.
#[derive(Debug)]
pub struct Reviews {
    call: Option<RatingsCall>,
    ctx: PodContext,
    ratings_url: String,
}

impl Reviews {
    /// The reviews service `app` (one of the reviews versions) running in `ctx`.
    pub fn new(app: App, ctx: PodContext) -> Self {
        let ratings_url = super::service_url(&ctx, "ratings");
        Self {
            call: ratings_call(
                app,
                ctx.env_var("ENABLE_RATINGS"),
                ctx.env_var("STAR_COLOR"),
            ),
            ctx,
            ratings_url,
        }
    }

    /// The stars per reviewer from ratings, or `None` when ratings did not answer usefully.
    async fn fetch_ratings(
        &self,
        id: &str,
        req: &HttpRequest,
        call: &RatingsCall,
    ) -> Option<Value> {
        let mut request = ClientRequest::get(format!("{}/ratings/{id}", self.ratings_url));
        request.headers = super::propagated(req);
        let resp = client::send(&self.ctx.network, &self.ctx.origin(), request, call.timeout)
            .await
            .ok()?;
        if resp.status != StatusCode::OK {
            return None;
        }
        let body: Value = serde_json::from_slice(&resp.body).ok()?;
        body.get("ratings").cloned()
    }

    async fn route(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        let path = req.path();
        let get = req.method == Method::GET || req.method == Method::HEAD;
        if !get {
            return server::json(
                StatusCode::METHOD_NOT_ALLOWED,
                &json!({"error": format!("{} is not supported; use GET", req.method)}),
            );
        }
        if path == "/health" {
            return server::json(StatusCode::OK, &json!({"status": "Reviews is healthy"}));
        }
        let id = match path.strip_prefix("/reviews/") {
            Some(id) if !id.is_empty() && !id.contains('/') => id,
            _ => {
                return server::json(
                    StatusCode::NOT_FOUND,
                    &json!({"error": format!("no such resource: {path}; try /reviews/0")}),
                );
            }
        };
        let ratings = match &self.call {
            Some(call) => Some((call, self.fetch_ratings(id, req, call).await)),
            None => None,
        };
        let body = reviews_body(
            id,
            &self.ctx,
            ratings.as_ref().map(|(c, r)| (*c, r.as_ref())),
        );
        server::json(StatusCode::OK, &body)
    }
}

/// The `/reviews/<id>` answer; `ratings` is `None` for v1, else the call made and what ratings
/// answered (`None` when it failed).
fn reviews_body(
    id: &str,
    ctx: &PodContext,
    ratings: Option<(&RatingsCall, Option<&Value>)>,
) -> Value {
    let reviews: Vec<Value> = REVIEWS
        .iter()
        .map(|(reviewer, text)| {
            let mut review = json!({"reviewer": reviewer, "text": text});
            if let Some((call, answered)) = ratings {
                let stars = answered
                    .and_then(|r| r.get(*reviewer))
                    .and_then(Value::as_u64);
                review["rating"] = match stars {
                    Some(stars) => json!({"stars": stars, "color": call.color}),
                    None => json!({"error": RATINGS_UNAVAILABLE}),
                };
            }
            review
        })
        .collect();
    json!({
        "id": id,
        "podname": ctx.pod,
        "clustername": ctx.env_var("CLUSTER_NAME").unwrap_or("null"),
        "reviews": reviews,
    })
}

impl Site for Reviews {
    async fn handle(&self, req: &HttpRequest) -> Response<Full<Bytes>> {
        self.route(req).await
    }

    fn log_line(&self, req: &HttpRequest, resp: &Response<Full<Bytes>>) -> Option<String> {
        Some(super::access_line(req, resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_environment_decide_the_ratings_call() {
        assert_eq!(ratings_call(App::ReviewsV1, None, None), None);
        let v2 = ratings_call(App::ReviewsV2, None, None).unwrap();
        assert_eq!(
            (v2.color.as_str(), v2.timeout),
            ("black", Duration::from_secs(10))
        );
        let v3 = ratings_call(App::ReviewsV3, None, None).unwrap();
        assert_eq!(
            (v3.color.as_str(), v3.timeout),
            ("red", Duration::from_millis(2500))
        );
        let v1_on = ratings_call(App::ReviewsV1, Some("true"), Some("red")).unwrap();
        assert_eq!(
            (v1_on.color.as_str(), v1_on.timeout),
            ("red", Duration::from_millis(2500))
        );
        assert_eq!(ratings_call(App::ReviewsV3, Some("false"), None), None);
    }
}
