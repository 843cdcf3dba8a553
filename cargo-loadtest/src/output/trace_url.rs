//! `--trace-url TEMPLATE`: where a trace viewer shows a trace, as a URL with `{trace_id}` in it
//! (`https://tempo.example/trace/{trace_id}`, `https://jaeger.example/trace/{trace_id}`). The
//! reports link each exemplar's trace id through it.

use loadtest_report::exemplar::TraceId;

/// The placeholder a template must contain.
pub const PLACEHOLDER: &str = "{trace_id}";

/// A checked trace URL template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceUrl(String);

impl TraceUrl {
    /// Checks a template: an `http://` or `https://` URL with `{trace_id}` in it (as clap's value
    /// parser: the error says what is accepted, clap names the flag and the value).
    pub fn parse(template: &str) -> Result<TraceUrl, String> {
        let accepted = "expected an http:// or https:// URL with {trace_id} where the trace id goes, e.g. 'https://grafana.example/explore?trace={trace_id}'";
        if !template.contains(PLACEHOLDER) {
            return Err(format!("{template:?} has no {PLACEHOLDER}; {accepted}"));
        }
        let scheme_ok = ["http://", "https://"].iter().any(|p| {
            template
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
        });
        if !scheme_ok
            || template
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!("{template:?} is not a URL; {accepted}"));
        }
        Ok(TraceUrl(template.to_string()))
    }

    /// The viewer's URL of a trace.
    pub fn link(&self, trace_id: &TraceId) -> String {
        self.0.replace(PLACEHOLDER, &trace_id.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_need_the_placeholder_and_a_web_url() {
        let t = TraceUrl::parse("https://tempo.test/trace/{trace_id}?x={trace_id}").unwrap();
        assert_eq!(
            t.link(&TraceId([0xab; 16])),
            "https://tempo.test/trace/abababababababababababababababab?x=abababababababababababababababab"
        );
        let e = TraceUrl::parse("https://tempo.test/trace/").unwrap_err();
        assert!(
            e.contains("\"https://tempo.test/trace/\" has no {trace_id}"),
            "{e}"
        );
        for bad in [
            "javascript:alert(1)//{trace_id}",
            "tempo/{trace_id}",
            "https://a b/{trace_id}",
        ] {
            let e = TraceUrl::parse(bad).unwrap_err();
            assert!(
                e.contains("is not a URL") && e.contains("expected an http://"),
                "{e}"
            );
        }
    }
}
