//! Which reviews version rendered a Bookinfo product page, read from its HTML.
//!
//! Reviews v1 shows no stars, v2 black stars, v3 red stars. Two markups are understood:
//! the current template, where each full star is an element with `id="glyphicon glyphicon-star"`
//! inside a wrapper whose class holds `text-black-500` or `text-red-500`, and the older one, where
//! `<span class="glyphicon glyphicon-star">` sits inside `<font color="black|red">`. Empty stars
//! (`glyphicon-star-empty`, or stars without that id) are not counted.

use std::fmt;

/// What a product page shows in its reviews section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageKind {
    /// Reviews without stars: reviews v1.
    V1,
    /// Black stars: reviews v2.
    V2,
    /// Red stars: reviews v3.
    V3,
    /// Both black and red stars on one page (no Bookinfo version renders this).
    MixedStars,
    /// Reviews whose ratings could not be fetched (v2 or v3 with ratings failing).
    RatingsUnavailable,
    /// The reviews error block: productpage could not reach reviews.
    ReviewsUnavailable,
    /// Not a Bookinfo product page at all (an error page, another app, an empty body).
    NotProductPage,
}

impl PageKind {
    /// The reviews version this page proves, if any.
    pub fn version(self) -> Option<ReviewsVersion> {
        match self {
            PageKind::V1 => Some(ReviewsVersion::V1),
            PageKind::V2 => Some(ReviewsVersion::V2),
            PageKind::V3 => Some(ReviewsVersion::V3),
            _ => None,
        }
    }
}

impl fmt::Display for PageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PageKind::V1 => "no stars (reviews v1)",
            PageKind::V2 => "black stars (reviews v2)",
            PageKind::V3 => "red stars (reviews v3)",
            PageKind::MixedStars => "both black and red stars",
            PageKind::RatingsUnavailable => {
                "reviews without ratings (\"Ratings service is currently unavailable\")"
            }
            PageKind::ReviewsUnavailable => {
                "the reviews error (\"Error fetching product reviews\")"
            }
            PageKind::NotProductPage => "no Bookinfo product page",
        })
    }
}

/// One of the three reviews versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReviewsVersion {
    /// No ratings.
    V1,
    /// Black stars.
    V2,
    /// Red stars.
    V3,
}

impl ReviewsVersion {
    /// All three, in order.
    pub const ALL: [ReviewsVersion; 3] =
        [ReviewsVersion::V1, ReviewsVersion::V2, ReviewsVersion::V3];

    /// Parses `v1`, `v2`, `v3`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "v1" => Some(ReviewsVersion::V1),
            "v2" => Some(ReviewsVersion::V2),
            "v3" => Some(ReviewsVersion::V3),
            _ => None,
        }
    }

    /// The page this version renders.
    pub fn page(self) -> PageKind {
        match self {
            ReviewsVersion::V1 => PageKind::V1,
            ReviewsVersion::V2 => PageKind::V2,
            ReviewsVersion::V3 => PageKind::V3,
        }
    }
}

impl fmt::Display for ReviewsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReviewsVersion::V1 => "v1",
            ReviewsVersion::V2 => "v2",
            ReviewsVersion::V3 => "v3",
        })
    }
}

const STAR: &str = "glyphicon glyphicon-star";

/// Colour markers, newest template first; the one nearest before a star gives its colour.
const BLACK: [&str; 3] = ["text-black-500", "color=\"black\"", "color='black'"];
const RED: [&str; 3] = ["text-red-500", "color=\"red\"", "color='red'"];

/// Classifies a product page by the reviews it shows.
pub fn classify(html: &str) -> PageKind {
    if html.contains("Error fetching product reviews")
        || html.contains("product reviews are currently unavailable")
    {
        return PageKind::ReviewsUnavailable;
    }
    let is_product_page = html.contains("Simple Bookstore App") || html.contains("Book Reviews");
    if !is_product_page {
        return PageKind::NotProductPage;
    }
    let (mut black, mut red) = (0usize, 0usize);
    for at in full_stars(html) {
        match colour_before(&html[..at]) {
            Some(Colour::Black) => black += 1,
            Some(Colour::Red) => red += 1,
            None => {}
        }
    }
    match (black, red) {
        (0, 0) if html.contains("Ratings service is currently unavailable") => {
            PageKind::RatingsUnavailable
        }
        (0, 0) => PageKind::V1,
        (_, 0) => PageKind::V2,
        (0, _) => PageKind::V3,
        _ => PageKind::MixedStars,
    }
}

/// Byte offsets of full stars (`glyphicon glyphicon-star` not followed by `-empty` or more name).
fn full_stars(html: &str) -> impl Iterator<Item = usize> + '_ {
    html.match_indices(STAR).filter_map(move |(at, _)| {
        let next = html[at + STAR.len()..].chars().next();
        let continues_name = next.is_some_and(|c| c == '-' || c == '_' || c.is_alphanumeric());
        (!continues_name).then_some(at)
    })
}

enum Colour {
    Black,
    Red,
}

fn colour_before(before: &str) -> Option<Colour> {
    let last = |markers: &[&str]| markers.iter().filter_map(|m| before.rfind(m)).max();
    match (last(&BLACK), last(&RED)) {
        (Some(b), Some(r)) if b > r => Some(Colour::Black),
        (Some(_), Some(_)) => Some(Colour::Red),
        (Some(_), None) => Some(Colour::Black),
        (None, Some(_)) => Some(Colour::Red),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW_V1: &str = include_str!("../../tests/fixtures/bookinfo/new-v1.html");
    const NEW_V2: &str = include_str!("../../tests/fixtures/bookinfo/new-v2.html");
    const NEW_V3: &str = include_str!("../../tests/fixtures/bookinfo/new-v3.html");
    const OLD_V1: &str = include_str!("../../tests/fixtures/bookinfo/old-v1.html");
    const OLD_V2: &str = include_str!("../../tests/fixtures/bookinfo/old-v2.html");
    const OLD_V3: &str = include_str!("../../tests/fixtures/bookinfo/old-v3.html");
    const REVIEWS_DOWN: &str =
        include_str!("../../tests/fixtures/bookinfo/reviews-unavailable.html");
    const RATINGS_DOWN: &str =
        include_str!("../../tests/fixtures/bookinfo/ratings-unavailable.html");

    #[test]
    fn the_current_template_is_classified() {
        assert_eq!(classify(NEW_V1), PageKind::V1);
        assert_eq!(classify(NEW_V2), PageKind::V2);
        assert_eq!(classify(NEW_V3), PageKind::V3);
    }

    #[test]
    fn the_older_template_is_classified() {
        assert_eq!(classify(OLD_V1), PageKind::V1);
        assert_eq!(classify(OLD_V2), PageKind::V2);
        assert_eq!(classify(OLD_V3), PageKind::V3);
    }

    #[test]
    fn failures_are_told_apart_from_v1() {
        assert_eq!(classify(REVIEWS_DOWN), PageKind::ReviewsUnavailable);
        assert_eq!(classify(RATINGS_DOWN), PageKind::RatingsUnavailable);
        assert_eq!(
            classify("upstream connect error or disconnect/reset before headers"),
            PageKind::NotProductPage
        );
        assert_eq!(classify(""), PageKind::NotProductPage);
    }

    #[test]
    fn empty_stars_do_not_count() {
        // A v2 page whose only black marker wraps empty stars is still v1-looking: no full star.
        let page = "<title>Simple Bookstore App</title><font color=\"black\">\
                    <span class=\"glyphicon glyphicon-star-empty\"></span></font>";
        assert_eq!(classify(page), PageKind::V1);
    }

    #[test]
    fn black_and_red_on_one_page_is_reported_as_such() {
        let page = "<title>Simple Bookstore App</title>\
                    <div class=\"text-black-500\"><svg id=\"glyphicon glyphicon-star\"></svg></div>\
                    <div class=\"text-red-500\"><svg id=\"glyphicon glyphicon-star\"></svg></div>";
        assert_eq!(classify(page), PageKind::MixedStars);
    }
}
