//! The HTML productpage serves: the index (`/`), the product page (`/productpage`) with its
//! details and reviews blocks, and the stylesheet under `/static/`.
//!
//! The markers learners and checks rely on are those of Bookinfo's current template: the title
//! `Simple Bookstore App`; each full star an element with `id="glyphicon glyphicon-star"`
//! inside a wrapper whose class carries the colour (`text-black-500`, `text-red-500`); empty
//! stars without that id; no rating block at all for reviews v1; and the error texts below.

use std::fmt::Write as _;

use serde_json::Value;

use super::Product;

/// The page title of every productpage page.
pub const TITLE: &str = "Simple Bookstore App";

/// The heading shown when details could not be fetched.
pub const DETAILS_ERROR_HEADING: &str = "Error fetching product details";
/// The text shown when details could not be fetched.
pub const DETAILS_ERROR: &str = "Sorry, product details are currently unavailable for this book.";
/// The heading shown when reviews could not be fetched.
pub const REVIEWS_ERROR_HEADING: &str = "Error fetching product reviews";
/// The text shown when reviews could not be fetched.
pub const REVIEWS_ERROR: &str = "Sorry, product reviews are currently unavailable for this book.";
/// The text productpage's API answers when ratings could not be fetched.
pub const RATINGS_ERROR: &str = "Sorry, product ratings are currently unavailable for this book.";

/// The stylesheet at `/static/bookinfo.css`.
pub const STYLESHEET: &str = "\
body { font-family: system-ui, sans-serif; margin: 0; color: #1f2937; background: #f9fafb; }
nav { display: flex; justify-content: space-between; align-items: center; padding: 0.75rem 1.5rem; background: #1e3a8a; color: #fff; }
nav a, nav button { color: #fff; }
nav form { display: flex; gap: 0.5rem; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem; }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; }
.summary { margin-bottom: 2rem; }
blockquote { margin: 0 0 1.5rem 0; padding-left: 1rem; border-left: 4px solid #d1d5db; }
blockquote small { display: block; color: #6b7280; margin-top: 0.25rem; }
dt { font-weight: 600; }
dd { margin: 0 0 0.5rem 0; }
.stars { font-size: 1.25rem; letter-spacing: 0.1rem; }
.star-empty { color: #9ca3af; }
.text-black-500 .star-full { color: #111827; }
.text-red-500 .star-full { color: #dc2626; }
.error h4 { color: #b91c1c; }
.served-by { color: #6b7280; font-size: 0.875rem; }
";

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(out: &mut String) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1.0\">\n");
    let _ = writeln!(out, "<title>{TITLE}</title>");
    out.push_str("<link rel=\"stylesheet\" href=\"static/bookinfo.css\">\n</head>\n");
}

/// The index page: what Bookinfo is and where to go.
pub fn index_page() -> String {
    let mut out = String::new();
    head(&mut out);
    out.push_str(
        "<body>\n<nav><a href=\"productpage\">BookInfo Sample</a></nav>\n<main>\n\
         <h1>Welcome to the Bookinfo sample</h1>\n\
         <p>This small bookstore is made of four services: <b>productpage</b> renders the \
         page and calls <b>details</b> for the book's facts and <b>reviews</b> for what readers \
         wrote; reviews v2 and v3 ask <b>ratings</b> for the stars.</p>\n\
         <p>Open the product page as a visitor would:</p>\n<ul>\n\
         <li><a href=\"productpage?u=normal\">as a normal user</a></li>\n\
         <li><a href=\"productpage?u=test\">as a test user</a></li>\n</ul>\n\
         <h2>API</h2>\n<table>\n\
         <tr><th>Method</th><th>Path</th><th>Answers</th></tr>\n\
         <tr><td>GET</td><td>/api/v1/products</td><td>the products on sale</td></tr>\n\
         <tr><td>GET</td><td>/api/v1/products/&lt;id&gt;</td><td>a product's details</td></tr>\n\
         <tr><td>GET</td><td>/api/v1/products/&lt;id&gt;/reviews</td><td>a product's reviews</td></tr>\n\
         <tr><td>GET</td><td>/api/v1/products/&lt;id&gt;/ratings</td><td>a product's ratings</td></tr>\n\
         </table>\n</main>\n</body>\n</html>\n",
    );
    out
}

/// What the product page shows.
#[derive(Clone, Copy, Debug)]
pub struct ProductView<'a> {
    /// The signed-in user, if any.
    pub user: Option<&'a str>,
    /// The product.
    pub product: &'a Product,
    /// details' answer, `None` when it could not be fetched.
    pub details: Option<&'a Value>,
    /// reviews' answer, `None` when it could not be fetched.
    pub reviews: Option<&'a Value>,
}

/// The product page.
pub fn product_page(view: &ProductView<'_>) -> String {
    let mut out = String::new();
    head(&mut out);
    out.push_str("<body>\n<nav>\n<a href=\"productpage\">BookInfo Sample</a>\n");
    match view.user {
        Some(user) => {
            let _ = writeln!(
                out,
                "<div class=\"user\">Signed in as <strong>{}</strong> <a href=\"logout\">Sign out</a></div>",
                escape(user)
            );
        }
        None => out.push_str(
            "<form method=\"post\" action=\"login\">\
             <input type=\"text\" name=\"username\" placeholder=\"User name\" required>\
             <input type=\"password\" name=\"passwd\" placeholder=\"Password\">\
             <button type=\"submit\">Sign in</button></form>\n",
        ),
    }
    out.push_str("</nav>\n<main>\n");
    let _ = writeln!(
        out,
        "<section class=\"summary\">\n<h1>{}</h1>\n<p>{}</p>\n</section>",
        escape(view.product.title),
        view.product.description_html
    );
    out.push_str("<div class=\"columns\">\n");
    out.push_str(&details_block(view.details));
    out.push_str(&reviews_block(view.reviews));
    out.push_str("</div>\n</main>\n</body>\n</html>\n");
    out
}

fn error_block(heading: &str, text: &str) -> String {
    format!("<div class=\"error\">\n<h4>{heading}</h4>\n<p>{text}</p>\n</div>\n")
}

/// A JSON value as display text (strings without quotes).
fn show(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(s)) => escape(s),
        Some(Value::Null) | None => String::new(),
        Some(other) => escape(&other.to_string()),
    }
}

fn details_block(details: Option<&Value>) -> String {
    let mut out = String::from("<section class=\"details\">\n<h2>Book Details</h2>\n");
    match details {
        Some(d) => {
            out.push_str("<dl>\n");
            for (label, key) in [
                ("Type", "type"),
                ("Pages", "pages"),
                ("Publisher", "publisher"),
                ("Language", "language"),
                ("ISBN-10", "ISBN-10"),
                ("ISBN-13", "ISBN-13"),
            ] {
                let _ = writeln!(out, "<dt>{label}:</dt><dd>{}</dd>", show(d.get(key)));
            }
            out.push_str("</dl>\n");
        }
        None => out.push_str(&error_block(DETAILS_ERROR_HEADING, DETAILS_ERROR)),
    }
    out.push_str("</section>\n");
    out
}

fn reviews_block(reviews: Option<&Value>) -> String {
    let mut out = String::from("<section class=\"reviews\">\n<h2>Book Reviews</h2>\n");
    let Some(reviews) = reviews else {
        out.push_str(&error_block(REVIEWS_ERROR_HEADING, REVIEWS_ERROR));
        out.push_str("</section>\n");
        return out;
    };
    for review in reviews
        .get("reviews")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "<blockquote>\n<p>{}</p>\n<small>{}</small>",
            show(review.get("text")),
            show(review.get("reviewer"))
        );
        if let Some(rating) = review.get("rating") {
            out.push_str(&rating_block(rating));
        }
        out.push_str("</blockquote>\n");
    }
    if let Some(pod) = reviews.get("podname").and_then(Value::as_str) {
        let _ = writeln!(
            out,
            "<p class=\"served-by\">Reviews served by: {}</p>",
            escape(pod)
        );
    }
    out.push_str("</section>\n");
    out
}

/// The stars of one review (full stars carry `id="glyphicon glyphicon-star"`), or the error
/// reviews reported instead.
pub fn rating_block(rating: &Value) -> String {
    if let Some(stars) = rating.get("stars").and_then(Value::as_u64) {
        let full = stars.min(5);
        // The colour becomes part of a class name: keep it to letters.
        let color: String = rating
            .get("color")
            .and_then(Value::as_str)
            .unwrap_or("black")
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect();
        let mut out = format!("<div class=\"stars text-{color}-500\">");
        for _ in 0..full {
            out.push_str(
                "<span id=\"glyphicon glyphicon-star\" class=\"star-full\">&#9733;</span>",
            );
        }
        for _ in full..5 {
            out.push_str("<span class=\"star-empty\">&#9734;</span>");
        }
        out.push_str("</div>\n");
        out
    } else if let Some(error) = rating.get("error") {
        format!(
            "<p class=\"rating-error\"><i>{}</i></p>\n",
            show(Some(error))
        )
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::workloads::bookinfo::{PRODUCTS, Stars, stars};

    fn reviews(rating: Option<Value>) -> Value {
        let mut r1 = json!({"reviewer": "Reviewer1", "text": "funny"});
        let mut r2 = json!({"reviewer": "Reviewer2", "text": "fun <b>and</b> light"});
        if let Some(rating) = rating {
            r1["rating"] = rating.clone();
            r2["rating"] = rating;
        }
        json!({"id": "0", "podname": "reviews-v2-abc", "reviews": [r1, r2]})
    }

    fn page(user: Option<&str>, details: Option<&Value>, reviews: Option<&Value>) -> String {
        product_page(&ProductView {
            user,
            product: &PRODUCTS[0],
            details,
            reviews,
        })
    }

    #[test]
    fn stars_are_full_then_empty_in_the_versions_colour() {
        let html = rating_block(&json!({"stars": 4, "color": "red"}));
        assert!(html.contains("class=\"stars text-red-500\""), "{html}");
        assert_eq!(html.matches("id=\"glyphicon glyphicon-star\"").count(), 4);
        assert_eq!(html.matches("star-empty").count(), 1);
        let black = rating_block(&json!({"stars": 9, "color": "black\" onload=\"x"}));
        assert!(
            black.contains("class=\"stars text-blackonloadx-500\""),
            "{black}"
        );
        assert_eq!(black.matches("id=\"glyphicon glyphicon-star\"").count(), 5);
    }

    #[test]
    fn a_page_with_v2_reviews_has_nine_black_stars_and_the_title() {
        let details = crate::workloads::bookinfo::details::book_details(0);
        let mut r = reviews(None);
        r["reviews"][0]["rating"] = json!({"stars": 5, "color": "black"});
        r["reviews"][1]["rating"] = json!({"stars": 4, "color": "black"});
        let html = page(None, Some(&details), Some(&r));
        assert!(html.contains("<title>Simple Bookstore App</title>"));
        assert_eq!(html.matches("id=\"glyphicon glyphicon-star\"").count(), 9);
        assert_eq!(stars(&html), Stars::Black);
        assert!(html.contains("<dd>paperback</dd>"), "{html}");
        assert!(html.contains("<dd>123-1234567890</dd>"));
        assert!(html.contains("fun &lt;b&gt;and&lt;/b&gt; light"));
        assert!(html.contains("Reviews served by: reviews-v2-abc"));
        assert!(
            html.contains("action=\"login\""),
            "anonymous pages offer sign-in"
        );
    }

    #[test]
    fn v1_reviews_render_no_rating_block() {
        let html = page(None, None, Some(&reviews(None)));
        assert!(!html.contains("glyphicon glyphicon-star"));
        assert_eq!(stars(&html), Stars::Absent);
        assert!(html.contains("Reviewer1"));
    }

    #[test]
    fn failures_show_the_bookinfo_error_texts() {
        let unavailable = reviews(Some(
            json!({"error": "Ratings service is currently unavailable"}),
        ));
        let html = page(None, None, Some(&unavailable));
        assert!(html.contains("Error fetching product details"));
        assert!(html.contains("Sorry, product details are currently unavailable for this book."));
        assert_eq!(
            html.matches("Ratings service is currently unavailable")
                .count(),
            2
        );
        let html = page(None, None, None);
        assert!(html.contains("Error fetching product reviews"));
        assert!(html.contains("Sorry, product reviews are currently unavailable for this book."));
    }

    #[test]
    fn the_signed_in_user_is_shown_escaped() {
        let html = page(Some("jason"), None, None);
        assert!(html.contains("Signed in as <strong>jason</strong>"));
        assert!(html.contains("href=\"logout\""));
        let html = page(Some("<script>"), None, None);
        assert!(html.contains("<strong>&lt;script&gt;</strong>"));
        assert!(!html.contains("action=\"login\""));
    }
}
