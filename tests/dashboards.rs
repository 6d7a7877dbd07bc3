//! The Grafana dashboards (`deploy/grafana/dashboards/*.json`) query only what the services export.
//!
//! Every PromQL expression of every dashboard (panel targets, panels inside rows, template
//! variable queries) is taken apart by a small PromQL parser: the metric names of its selectors,
//! the label names in their matchers, and the labels of `by (…)`, `without (…)`, `on (…)`,
//! `ignoring (…)` and `group_left/right (…)` with the metrics each applies to. Then the whole stack
//! runs in-process (`Stack`), gets a little traffic so that lazily created series exist (a
//! whistle that breaches and is then acknowledged, arrives and is resolved, one acknowledged at
//! once, a board that subscribes and goes away, reads of the registry and the SLA summary), every
//! service's `/metrics` is scraped, and each metric must be there with each label the dashboard
//! uses on it. Recording rules of `deploy/prometheus/rules.yml` count as metrics with the labels
//! their expression keeps, and their own expressions are checked the same way.
//!
//! `instance` and `job` are allowed on every metric: Prometheus adds them when it scrapes.
//! Label *values* (`reason="slow_consumer"`) are not checked: many appear only on rare events.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use whistle_tests::*;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every dashboard file, by file name, parsed.
fn dashboards() -> Vec<(String, Value)> {
    let dir = repo().join("deploy/grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no dashboards in {}", dir.display());
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&p).expect("readable");
            let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, json)
        })
        .collect()
}

/// One PromQL expression and where it is (file › panel › refId).
#[derive(Debug, Clone)]
struct Query {
    place: String,
    expr: String,
}

/// Every panel of a dashboard, including those inside (collapsed) rows.
fn all_panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(panels: &'a Value, out: &mut Vec<&'a Value>) {
        for p in panels.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// The PromQL of a dashboard: every target's `expr`, and what template variables query.
fn queries(file: &str, dashboard: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in all_panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or("?");
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let place = format!("{file} › panel {title:?} › {}", target["refId"].as_str().unwrap_or("?"));
                out.push(Query { place, expr: expr.to_owned() });
            }
        }
    }
    for var in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if var["type"] != "query" {
            continue;
        }
        let q = var["query"]["query"].as_str().or_else(|| var["query"].as_str()).unwrap_or_default();
        let place = format!("{file} › variable ${}", var["name"].as_str().unwrap_or("?"));
        out.extend(promql::variable_query(q).map(|expr| Query { place, expr }));
    }
    out
}

/// Grafana's own variables, usable in any query.
const BUILTIN_VARIABLES: &[&str] = &[
    "__rate_interval",
    "__interval",
    "__interval_ms",
    "__range",
    "__range_s",
    "__range_ms",
    "__from",
    "__to",
    "__dashboard",
];

/// `$name`, `${name}`, `${name:format}` and `[[name]]` in a query.
fn variables_in(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let word = |i: usize| {
        let end = (i..b.len()).find(|&j| !(b[j].is_ascii_alphanumeric() || b[j] == b'_')).unwrap_or(b.len());
        (expr[i..end].to_owned(), end)
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1) == Some(&b'{') {
            let (name, end) = word(i + 2);
            out.push(name);
            i = end;
        } else if b[i] == b'$' {
            let (name, end) = word(i + 1);
            out.push(name);
            i = end.max(i + 1);
        } else if b[i] == b'[' && b.get(i + 1) == Some(&b'[') {
            let (name, end) = word(i + 2);
            out.push(name);
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// The expression with Grafana's variables replaced by something PromQL parses.
fn substitute_variables(expr: &str) -> String {
    let mut s = expr.to_owned();
    for (var, value) in [
        ("$__rate_interval", "1m"),
        ("${__rate_interval}", "1m"),
        ("$__interval", "1m"),
        ("${__interval}", "1m"),
        ("$__range", "1h"),
        ("${__range}", "1h"),
    ] {
        s = s.replace(var, value);
    }
    for name in variables_in(&s) {
        for form in [format!("${{{name}}}"), format!("${name}"), format!("[[{name}]]")] {
            s = s.replace(&form, "x");
        }
    }
    s
}

/// A small PromQL parser: enough to find metrics, labels and groupings, and to refuse what it
/// does not know (an unknown function is an error, not a metric).
mod promql {
    use std::collections::BTreeSet;

    pub const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];

    pub const FUNCTIONS: &[&str] = &[
        "abs",
        "absent",
        "absent_over_time",
        "acos",
        "acosh",
        "asin",
        "asinh",
        "atan",
        "atanh",
        "avg_over_time",
        "ceil",
        "changes",
        "clamp",
        "clamp_max",
        "clamp_min",
        "cos",
        "cosh",
        "count_over_time",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "days_in_month",
        "deg",
        "delta",
        "deriv",
        "double_exponential_smoothing",
        "exp",
        "floor",
        "histogram_avg",
        "histogram_count",
        "histogram_fraction",
        "histogram_quantile",
        "histogram_stddev",
        "histogram_stdvar",
        "histogram_sum",
        "holt_winters",
        "hour",
        "idelta",
        "increase",
        "info",
        "irate",
        "label_join",
        "label_replace",
        "last_over_time",
        "ln",
        "log10",
        "log2",
        "mad_over_time",
        "max_over_time",
        "min_over_time",
        "minute",
        "month",
        "pi",
        "predict_linear",
        "present_over_time",
        "quantile_over_time",
        "rad",
        "rate",
        "resets",
        "round",
        "scalar",
        "sgn",
        "sin",
        "sinh",
        "sort",
        "sort_by_label",
        "sort_by_label_desc",
        "sort_desc",
        "sqrt",
        "stddev_over_time",
        "stdvar_over_time",
        "sum_over_time",
        "tan",
        "tanh",
        "time",
        "timestamp",
        "vector",
        "year",
    ];

    /// Functions whose argument must be a counter (or a histogram's `_bucket`, `_sum`, `_count`).
    pub const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];

    const BINARY_WORDS: &[&str] = &["and", "or", "unless", "atan2"];

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Ident(String),
        Str,
        Num,
        /// `[5m]`, `[1h:1m]`: what a range or subquery says is not a metric.
        Range,
        /// A Grafana variable where a value goes (`topk($n, …)`).
        Var,
        Punct(&'static str),
    }

    fn lex(s: &str) -> Result<Vec<Tok>, String> {
        const PUNCT: &[&str] = &[
            "!=", "=~", "!~", "==", "<=", ">=", "{", "}", "(", ")", ",", "=", "<", ">", "+", "-", "*", "/", "%", "^",
            "@",
        ];
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        'next: while i < b.len() {
            let c = b[i];
            if c.is_ascii_whitespace() {
                i += 1;
            } else if c == b'#' {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            } else if c == b'"' || c == b'\'' || c == b'`' {
                i += 1;
                while i < b.len() && b[i] != c {
                    i += if b[i] == b'\\' && c != b'`' { 2 } else { 1 };
                }
                if i >= b.len() {
                    return Err("unterminated string".into());
                }
                i += 1;
                out.push(Tok::Str);
            } else if c == b'[' {
                let end = s[i..].find(']').ok_or("unterminated [")?;
                i += end + 1;
                out.push(Tok::Range);
            } else if c == b'$' {
                i += 1;
                if b.get(i) == Some(&b'{') {
                    i += s[i..].find('}').ok_or("unterminated ${")? + 1;
                } else {
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                }
                out.push(Tok::Var);
            } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
                while i < b.len() {
                    let exp_sign = (b[i] == b'+' || b[i] == b'-') && matches!(b[i - 1], b'e' | b'E');
                    if b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'_' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Tok::Num);
            } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                    i += 1;
                }
                out.push(Tok::Ident(s[start..i].to_owned()));
            } else {
                for p in PUNCT {
                    if s[i..].starts_with(p) {
                        out.push(Tok::Punct(p));
                        i += p.len();
                        continue 'next;
                    }
                }
                return Err(format!("unexpected character {:?}", c as char));
            }
        }
        Ok(out)
    }

    /// A selector: the metric and the label names its matchers use.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Selector {
        pub metric: String,
        pub labels: Vec<String>,
    }

    /// Labels named by `by`, `without`, `on`, `ignoring`, `group_left` or `group_right`, and
    /// the metrics of the expression they apply to.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Grouping {
        pub clause: &'static str,
        pub labels: Vec<String>,
        pub metrics: BTreeSet<String>,
    }

    /// Which labels an expression's result carries.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Out {
        Scalar,
        /// Exactly these (an aggregation `by`).
        Known(BTreeSet<String>),
        /// Those of these metrics, less some.
        Of {
            metrics: BTreeSet<String>,
            less: BTreeSet<String>,
        },
    }

    #[derive(Debug, Default, Clone)]
    pub struct Analysis {
        pub selectors: Vec<Selector>,
        pub groupings: Vec<Grouping>,
        /// (function, metric) for `rate(metric[…])` and the like.
        pub counter_uses: Vec<(String, String)>,
    }

    struct Parser {
        toks: Vec<Tok>,
        pos: usize,
        a: Analysis,
    }

    struct Node {
        out: Out,
        metrics: BTreeSet<String>,
        /// A bare selector (for `rate(x[5m])`).
        selector: Option<String>,
    }

    impl Node {
        fn scalar() -> Node {
            Node { out: Out::Scalar, metrics: BTreeSet::new(), selector: None }
        }
    }

    impl Parser {
        fn peek(&self) -> Option<&Tok> {
            self.toks.get(self.pos)
        }

        fn peek_ident(&self) -> Option<&str> {
            match self.peek() {
                Some(Tok::Ident(s)) => Some(s),
                _ => None,
            }
        }

        fn eat(&mut self, p: &str) -> bool {
            if matches!(self.peek(), Some(Tok::Punct(x)) if *x == p) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        fn expect(&mut self, p: &str) -> Result<(), String> {
            if self.eat(p) { Ok(()) } else { Err(format!("expected {p:?} at token {} ({:?})", self.pos, self.peek())) }
        }

        fn labels(&mut self) -> Result<Vec<String>, String> {
            self.expect("(")?;
            let mut out = Vec::new();
            while !self.eat(")") {
                match self.peek().cloned() {
                    Some(Tok::Ident(l)) => {
                        self.pos += 1;
                        out.push(l);
                    }
                    Some(Tok::Punct(",")) => self.pos += 1,
                    other => return Err(format!("expected a label name, found {other:?}")),
                }
            }
            Ok(out)
        }

        /// Takes a binary operator if one comes next.
        fn binary_op(&mut self) -> bool {
            let found = match self.peek() {
                Some(Tok::Punct(p)) => ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="].contains(p),
                Some(Tok::Ident(w)) => BINARY_WORDS.contains(&w.as_str()),
                _ => false,
            };
            self.pos += usize::from(found);
            found
        }

        fn expr(&mut self) -> Result<Node, String> {
            let mut left = self.unary()?;
            while self.binary_op() {
                if self.peek_ident() == Some("bool") {
                    self.pos += 1;
                }
                let mut clauses = Vec::new();
                for clause in ["on", "ignoring", "group_left", "group_right"] {
                    if self.peek_ident() == Some(clause) {
                        self.pos += 1;
                        let labels = if self.peek() == Some(&Tok::Punct("(")) { self.labels()? } else { Vec::new() };
                        clauses.push((clause, labels));
                    }
                }
                let right = self.unary()?;
                let metrics: BTreeSet<String> = left.metrics.union(&right.metrics).cloned().collect();
                for (clause, labels) in clauses {
                    self.a.groupings.push(Grouping { clause, labels, metrics: metrics.clone() });
                }
                // A vector's labels survive the operation; a scalar on the left takes the right's.
                let out = if left.out == Out::Scalar { right.out.clone() } else { left.out.clone() };
                left = Node { out, metrics, selector: None };
            }
            Ok(left)
        }

        fn unary(&mut self) -> Result<Node, String> {
            if self.eat("-") || self.eat("+") {
                return self.unary();
            }
            let mut node = self.primary()?;
            loop {
                if self.peek() == Some(&Tok::Range) {
                    self.pos += 1;
                } else if self.peek_ident() == Some("offset") {
                    self.pos += 2;
                    node.selector = None;
                } else if self.eat("@") {
                    if self.peek_ident().is_some_and(|w| w == "start" || w == "end") {
                        self.pos += 1;
                        self.expect("(")?;
                        self.expect(")")?;
                    } else {
                        self.pos += 1;
                    }
                } else {
                    break;
                }
            }
            Ok(node)
        }

        fn args(&mut self) -> Result<Vec<Node>, String> {
            self.expect("(")?;
            let mut args = Vec::new();
            if self.eat(")") {
                return Ok(args);
            }
            loop {
                args.push(self.expr()?);
                if self.eat(")") {
                    return Ok(args);
                }
                self.expect(",")?;
            }
        }

        fn matchers(&mut self) -> Result<Vec<String>, String> {
            self.expect("{")?;
            let mut labels = Vec::new();
            while !self.eat("}") {
                match self.peek().cloned() {
                    Some(Tok::Punct(",")) => self.pos += 1,
                    Some(Tok::Ident(l)) => {
                        self.pos += 1;
                        match self.peek() {
                            Some(Tok::Punct("=" | "!=" | "=~" | "!~")) => self.pos += 1,
                            other => return Err(format!("expected a matcher operator after {l}, found {other:?}")),
                        }
                        match self.peek() {
                            Some(Tok::Str) => self.pos += 1,
                            other => return Err(format!("expected a quoted value for {l}, found {other:?}")),
                        }
                        labels.push(l);
                    }
                    other => return Err(format!("expected a label matcher, found {other:?}")),
                }
            }
            Ok(labels)
        }

        fn primary(&mut self) -> Result<Node, String> {
            match self.peek().cloned() {
                None => Err("unexpected end of expression".into()),
                Some(Tok::Num | Tok::Str | Tok::Var) => {
                    self.pos += 1;
                    Ok(Node::scalar())
                }
                Some(Tok::Punct("(")) => {
                    self.pos += 1;
                    let inner = self.expr()?;
                    self.expect(")")?;
                    Ok(Node { selector: None, ..inner })
                }
                Some(Tok::Punct("{")) => {
                    let labels = self.matchers()?;
                    Err(format!("a selector without a metric name ({{{}}}) is not supported here", labels.join(",")))
                }
                Some(Tok::Ident(word)) => {
                    self.pos += 1;
                    let call = self.peek() == Some(&Tok::Punct("("));
                    let grouping_first = matches!(self.peek_ident(), Some("by" | "without"));
                    if AGGREGATIONS.contains(&word.as_str()) && (call || grouping_first) {
                        return self.aggregation(&word);
                    }
                    if call {
                        if !FUNCTIONS.contains(&word.as_str()) {
                            return Err(format!("unknown function {word}()"));
                        }
                        return self.function(&word);
                    }
                    if ["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"]
                        .contains(&word.as_str())
                        || BINARY_WORDS.contains(&word.as_str())
                    {
                        return Err(format!("keyword {word} where an expression belongs"));
                    }
                    if ["inf", "nan"].contains(&word.to_ascii_lowercase().as_str()) {
                        return Ok(Node::scalar());
                    }
                    let labels = if self.peek() == Some(&Tok::Punct("{")) { self.matchers()? } else { Vec::new() };
                    self.a.selectors.push(Selector { metric: word.clone(), labels });
                    Ok(Node {
                        out: Out::Of { metrics: BTreeSet::from([word.clone()]), less: BTreeSet::new() },
                        metrics: BTreeSet::from([word.clone()]),
                        selector: Some(word),
                    })
                }
                Some(other) => Err(format!("unexpected {other:?}")),
            }
        }

        /// `by (…)` or `without (…)`, if one comes next.
        fn grouping(&mut self) -> Result<Option<(&'static str, Vec<String>)>, String> {
            let clause = match self.peek_ident() {
                Some("by") => "by",
                Some("without") => "without",
                _ => return Ok(None),
            };
            self.pos += 1;
            Ok(Some((clause, self.labels()?)))
        }

        fn aggregation(&mut self, op: &str) -> Result<Node, String> {
            let mut grouping = self.grouping()?;
            let args = self.args()?;
            if grouping.is_none() {
                grouping = self.grouping()?;
            }
            let vector = args.into_iter().last().ok_or_else(|| format!("{op}() without an argument"))?;
            let out = match (&grouping, op) {
                (_, "topk" | "bottomk" | "limitk" | "limit_ratio") => vector.out.clone(),
                (Some(("by", labels)), _) => Out::Known(labels.iter().cloned().collect()),
                (Some((_, labels)), _) => match &vector.out {
                    Out::Of { metrics, less } => {
                        Out::Of { metrics: metrics.clone(), less: less.iter().chain(labels.iter()).cloned().collect() }
                    }
                    Out::Known(known) => Out::Known(known.iter().filter(|l| !labels.contains(l)).cloned().collect()),
                    Out::Scalar => Out::Scalar,
                },
                (None, _) => Out::Known(BTreeSet::new()),
            };
            if let Some((clause, labels)) = grouping {
                self.a.groupings.push(Grouping { clause, labels, metrics: vector.metrics.clone() });
            }
            Ok(Node { out, metrics: vector.metrics, selector: None })
        }

        fn function(&mut self, name: &str) -> Result<Node, String> {
            let args = self.args()?;
            if COUNTER_FUNCTIONS.contains(&name) {
                for arg in &args {
                    if let Some(metric) = &arg.selector {
                        self.a.counter_uses.push((name.to_owned(), metric.clone()));
                    }
                }
            }
            let metrics: BTreeSet<String> = args.iter().flat_map(|a| a.metrics.iter().cloned()).collect();
            let out = match name {
                "scalar" | "time" | "pi" => Out::Scalar,
                "vector" => Out::Known(BTreeSet::new()),
                _ if args.is_empty() => Out::Known(BTreeSet::new()),
                "histogram_quantile" => {
                    let vector = args.get(1).ok_or("histogram_quantile needs two arguments")?;
                    match &vector.out {
                        Out::Known(labels) if !labels.contains("le") => {
                            return Err("histogram_quantile over an aggregation that drops `le`".into());
                        }
                        Out::Known(labels) => Out::Known(labels.iter().filter(|l| *l != "le").cloned().collect()),
                        Out::Of { metrics, less } => Out::Of {
                            metrics: metrics.clone(),
                            less: less.iter().cloned().chain(["le".to_owned()]).collect(),
                        },
                        Out::Scalar => Out::Scalar,
                    }
                }
                _ => args.iter().rev().map(|a| a.out.clone()).find(|o| *o != Out::Scalar).unwrap_or(Out::Scalar),
            };
            Ok(Node { out, metrics, selector: None })
        }
    }

    /// The metrics, labels and groupings of one expression, and the labels of its result.
    pub fn analyse(expr: &str) -> Result<(Analysis, Out), String> {
        let toks = lex(expr)?;
        let mut p = Parser { toks, pos: 0, a: Analysis::default() };
        let node = p.expr()?;
        if p.pos != p.toks.len() {
            return Err(format!("unexpected {:?} after a complete expression", p.toks[p.pos]));
        }
        Ok((p.a, node.out))
    }

    /// The PromQL inside a Grafana variable query: `label_values(expr, label)` (the label joins
    /// as a `by` so it is checked), `query_result(expr)`; `label_values(label)` and `metrics(…)`
    /// name no metric.
    pub fn variable_query(q: &str) -> Option<String> {
        let q = q.trim();
        if let Some(inner) = q.strip_prefix("label_values(").and_then(|r| r.strip_suffix(')')) {
            let (metric, label) = inner.rsplit_once(',')?;
            return Some(format!("count by ({}) ({})", label.trim(), metric.trim()));
        }
        if let Some(inner) = q.strip_prefix("query_result(").and_then(|r| r.strip_suffix(')')) {
            return Some(inner.to_owned());
        }
        None
    }
}

/// What the services expose: each series name with its label names and its family's type.
#[derive(Debug, Default)]
struct Exported {
    labels: BTreeMap<String, BTreeSet<String>>,
    types: BTreeMap<String, String>,
}

impl Exported {
    /// Parses Prometheus text exposition format.
    fn parse(&mut self, text: &str) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split_whitespace();
                if let (Some(name), Some(kind)) = (parts.next(), parts.next()) {
                    self.types.insert(name.to_owned(), kind.to_owned());
                }
                continue;
            }
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..end];
            let entry = self.labels.entry(name.to_owned()).or_default();
            if line[end..].starts_with('{') {
                let b = line.as_bytes();
                let mut i = end + 1;
                while i < b.len() && b[i] != b'}' {
                    let eq = line[i..].find('=').map(|e| i + e).expect("label=value");
                    entry.insert(line[i..eq].trim().trim_start_matches(',').trim().to_owned());
                    i = eq + 2; // past ="
                    while i < b.len() && b[i] != b'"' {
                        i += if b[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                    if b.get(i) == Some(&b',') {
                        i += 1;
                    }
                }
            }
        }
    }

    /// The family type of a series (`_bucket` etc. resolve to their histogram).
    fn type_of(&self, series: &str) -> Option<&str> {
        if let Some(t) = self.types.get(series) {
            return Some(t);
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = series.strip_suffix(suffix)
                && let Some(t) = self.types.get(base).filter(|t| *t == "histogram" || *t == "summary")
            {
                return Some(t);
            }
        }
        None
    }
}

/// Labels Prometheus attaches to every scraped series.
const TARGET_LABELS: &[&str] = &["instance", "job"];

/// A recording rule of deploy/prometheus/rules.yml.
#[derive(Debug, Clone)]
struct Rule {
    record: String,
    expr: String,
}

/// The recording rules: `- record: NAME` followed by `expr: …` (one line or a `|` block).
fn recording_rules(yaml: &str) -> Vec<Rule> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut rules = Vec::new();
    let mut current: Option<String> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim_start().trim_start_matches("- ").trim_start();
        if let Some(name) = t.strip_prefix("record:") {
            current = Some(name.trim().to_owned());
        } else if t.starts_with("alert:") {
            current = None;
        } else if let (Some(value), Some(record)) = (t.strip_prefix("expr:"), current.as_ref()) {
            let value = value.trim();
            let expr = if value == "|" || value == ">" {
                let indent = line.len() - line.trim_start().len();
                let mut block = Vec::new();
                while i + 1 < lines.len()
                    && (lines[i + 1].trim().is_empty() || lines[i + 1].len() - lines[i + 1].trim_start().len() > indent)
                {
                    i += 1;
                    block.push(lines[i].trim());
                }
                block.join("\n")
            } else {
                value.trim_matches('"').trim_matches('\'').to_owned()
            };
            rules.push(Rule { record: record.clone(), expr });
            current = None;
        }
        i += 1;
    }
    rules
}

fn rules() -> Vec<Rule> {
    let path = repo().join("deploy/prometheus/rules.yml");
    recording_rules(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Checks expressions against what is exported and what the recording rules produce.
struct Checker<'a> {
    exported: &'a Exported,
    rules: BTreeMap<String, promql::Out>,
}

impl<'a> Checker<'a> {
    fn new(exported: &'a Exported, rules: &[Rule]) -> (Checker<'a>, Vec<String>) {
        let mut problems = Vec::new();
        let mut outs = BTreeMap::new();
        for rule in rules {
            match promql::analyse(&rule.expr) {
                Ok((_, out)) => {
                    outs.insert(rule.record.clone(), out);
                }
                Err(e) => problems.push(format!("rules.yml › {}: cannot parse `{}`: {e}", rule.record, rule.expr)),
            }
        }
        (Checker { exported, rules: outs }, problems)
    }

    /// The label names a metric (or recording rule) has; None if nothing produces it.
    fn labels_of(&self, metric: &str) -> Option<BTreeSet<String>> {
        let labels: BTreeSet<String> = match self.rules.get(metric) {
            Some(promql::Out::Known(l)) => l.clone(),
            Some(promql::Out::Of { metrics, less }) => {
                metrics.iter().filter_map(|m| self.labels_of(m)).flatten().filter(|l| !less.contains(l)).collect()
            }
            Some(promql::Out::Scalar) => BTreeSet::new(),
            None => {
                let mut labels = self.exported.labels.get(metric)?.clone();
                labels.extend(TARGET_LABELS.iter().map(|l| (*l).to_owned()));
                labels
            }
        };
        Some(labels)
    }

    fn missing_metric(&self, metric: &str) -> String {
        let mut msg = format!("metric `{metric}` is not exported by any service");
        if self.exported.types.get(metric).is_some_and(|t| t == "histogram") {
            msg = format!("`{metric}` is a histogram: query `{metric}_bucket`, `{metric}_sum` or `{metric}_count`");
        } else if metric.contains(':') {
            msg.push_str(" and is not a recording rule in deploy/prometheus/rules.yml");
        } else {
            let near = nearest(metric, self.exported.labels.keys().chain(self.rules.keys()));
            if let Some(near) = near {
                msg.push_str(&format!(" (did you mean `{near}`?)"));
            }
        }
        msg
    }

    /// Everything wrong with one expression, each problem one line.
    fn check(&self, place: &str, expr: &str) -> Vec<String> {
        let (analysis, _) = match promql::analyse(expr) {
            Ok(a) => a,
            Err(e) => return vec![format!("{place}: cannot parse `{expr}`: {e}")],
        };
        let mut problems = Vec::new();
        for sel in &analysis.selectors {
            let Some(has) = self.labels_of(&sel.metric) else {
                problems.push(format!("{place}: {} — in `{expr}`", self.missing_metric(&sel.metric)));
                continue;
            };
            for label in sel.labels.iter().filter(|l| *l != "__name__" && !has.contains(*l)) {
                problems.push(format!(
                    "{place}: label `{label}` is not on `{}` (it has: {}) — in `{expr}`",
                    sel.metric,
                    has.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for g in &analysis.groupings {
            let available: BTreeSet<String> = g.metrics.iter().filter_map(|m| self.labels_of(m)).flatten().collect();
            if g.metrics.iter().any(|m| self.labels_of(m).is_none()) {
                continue; // already reported as a missing metric
            }
            for label in g.labels.iter().filter(|l| !available.contains(*l)) {
                problems.push(format!(
                    "{place}: `{} ({label})` names a label none of {} has (they have: {}) — in `{expr}`",
                    g.clause,
                    g.metrics.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "),
                    available.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
        for (function, metric) in &analysis.counter_uses {
            if self.rules.contains_key(metric) {
                problems.push(format!("{place}: {function}() of the recording rule `{metric}` — in `{expr}`"));
            } else if let Some(kind) = self.exported.type_of(metric)
                && kind != "counter"
                && !(kind == "histogram" || kind == "summary")
            {
                problems.push(format!("{place}: {function}() of `{metric}`, a {kind}, not a counter — in `{expr}`"));
            }
        }
        problems
    }
}

/// The closest name by edit distance, if it is close.
fn nearest<'a>(name: &str, candidates: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    fn distance(a: &str, b: &str) -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(row[j + 1] + 1);
                prev = cur;
            }
        }
        row[b.len()]
    }
    candidates.map(|c| (distance(name, c), c)).filter(|(d, _)| *d <= 4).min_by_key(|(d, _)| *d).map(|(_, c)| c)
}

/// Every problem of every dashboard query and of the recording rules they rest on.
fn problems(exported: &Exported) -> Vec<String> {
    let rules = rules();
    let (checker, mut problems) = Checker::new(exported, &rules);
    for rule in &rules {
        problems.extend(checker.check(&format!("deploy/prometheus/rules.yml › {}", rule.record), &rule.expr));
    }
    for (file, dashboard) in dashboards() {
        for q in queries(&file, &dashboard) {
            problems.extend(checker.check(&q.place, &q.expr));
        }
    }
    problems
}

/// How many dashboard queries there are, and the metrics (and recording rules) they use.
fn coverage() -> (usize, BTreeSet<String>) {
    let mut count = 0;
    let mut metrics = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        for q in queries(&file, &dashboard) {
            count += 1;
            if let Ok((analysis, _)) = promql::analyse(&q.expr) {
                metrics.extend(analysis.selectors.into_iter().map(|s| s.metric));
            }
        }
    }
    (count, metrics)
}

fn metrics_url(base: &str) -> String {
    let http = base.replacen("ws://", "http://", 1);
    let host = http.trim_start_matches("http://").split('/').next().expect("host:port");
    format!("http://{host}/metrics")
}

async fn scrape(stack: &Stack) -> Exported {
    let mut exported = Exported::default();
    for base in [&stack.api, &stack.ws, &stack.router_admin, &stack.sla, &stack.registry] {
        let url = metrics_url(base);
        let text = stack.http.get(&url).send().await.expect("metrics").text().await.expect("text");
        exported.parse(&text);
    }
    exported
}

fn timeline_has(view: &Value, kind: &str) -> bool {
    view["timeline"].as_array().is_some_and(|t| t.iter().any(|e| e["type"] == kind))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_metric_and_label_on_the_dashboards_is_exported_by_the_services() {
    // Seconds-long SLA deadlines, so warnings, breaches and escalations happen during the test.
    let stack = Stack::start_with_policy(Isolation::new(), fast_sla_policy()).await;
    let mut board = Board::connect_as(&stack.ws, &as_department(DEPARTMENT)).await;
    board.subscribe(&format!("department:{DEPARTMENT}"), None).await;
    assert_eq!(board.next().await["type"], "snapshot");

    // One whistle nobody acknowledges in time (3 s): a warning, a breach, escalations; then it is
    // acknowledged, reached and resolved, so all three durations are observed.
    let (status, body) = stack.raise(DEPT_ITEM, "dashboards: a late one").await;
    assert_eq!(status, 202, "{body}");
    let late = body["id"].as_str().expect("id").to_owned();
    // One acknowledged at once, and left open: the SLA service's open/overdue gauges carry only
    // districts with open cases.
    let (status, body) = stack.raise(DEPT_ITEM, "dashboards: a prompt one").await;
    assert_eq!(status, 202, "{body}");
    let prompt = body["id"].as_str().expect("id").to_owned();
    stack.wait_for(&prompt, |v| v["status"] == "dispatched").await;
    assert_eq!(stack.post(&format!("/api/v1/whistles/{prompt}/acknowledge"), &json!({})).await.0, 202);
    stack.wait_for(&late, |v| timeline_has(v, "sla.breached") && timeline_has(v, "whistle.escalated")).await;
    // Each action waits for the one before it to be projected: the case's rules decide on the view.
    for (action, status) in [("acknowledge", "acknowledged"), ("arrive", "on_site"), ("resolve", "resolved")] {
        let (code, body) = stack.post(&format!("/api/v1/whistles/{late}/{action}"), &json!({})).await;
        assert_eq!(code, 202, "{action}: {body}");
        stack.wait_for(&late, |v| v["status"] == status).await;
    }
    stack.wait_for(&prompt, |v| v["status"] == "acknowledged").await;
    board.until(|f| event_of(f) == Some(("whistle.resolved", late.as_str()))).await;
    // The board goes away: a close is counted with its reason.
    board.cut();
    // The registry's and the SLA service's APIs answer once each.
    for url in [format!("{}/api/v1/districts", stack.registry), format!("{}/api/v1/sla/summary", stack.sla)] {
        let resp = stack.http.get(&url).bearer_auth(token(&as_manager())).send().await.expect("sent");
        assert_eq!(resp.status().as_u16(), 200, "{url}");
    }

    // Gauges are refreshed every second and closes are counted as the session ends: poll.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let exported = scrape(&stack).await;
        let problems = problems(&exported);
        if problems.is_empty() {
            let (queries, metrics) = coverage();
            println!(
                "{queries} dashboard queries use {} metrics, each exported with its labels: {}",
                metrics.len(),
                metrics.into_iter().collect::<Vec<_>>().join(", ")
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the dashboards query what the services do not export ({} problems):\n  {}\n\nexported metrics:\n  {}",
            problems.len(),
            problems.join("\n  "),
            exported.labels.keys().cloned().collect::<Vec<_>>().join("\n  ")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stack.stop().await;
}

#[test]
fn every_dashboard_has_grafanas_shape() {
    let mut uids = BTreeSet::new();
    for (file, d) in dashboards() {
        let uid = d["uid"].as_str().unwrap_or_else(|| panic!("{file}: no uid"));
        assert!(
            !uid.is_empty()
                && uid.len() <= 40
                && uid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "{file}: uid {uid:?} (1-40 of [A-Za-z0-9-_])"
        );
        assert!(uids.insert(uid.to_owned()), "{file}: uid {uid} is used by another dashboard");
        assert!(d["title"].as_str().is_some_and(|t| !t.trim().is_empty()), "{file}: no title");
        let schema = d["schemaVersion"].as_u64().unwrap_or_else(|| panic!("{file}: no schemaVersion"));
        assert!((36..=41).contains(&schema), "{file}: schemaVersion {schema}, expected about 39");
        assert!(d.get("id").is_none_or(Value::is_null), "{file}: a provisioned dashboard carries no database id");
        let variables: Vec<&Value> = d["templating"]["list"].as_array().into_iter().flatten().collect();
        let names: BTreeSet<&str> = variables.iter().filter_map(|v| v["name"].as_str()).collect();
        let ds_var = variables.iter().find(|v| v["name"] == "DS_PROMETHEUS");
        let datasource_ok = |ds: &Value, what: &str| {
            assert_eq!(ds["type"], "prometheus", "{file}: {what}: datasource type: {ds}");
            let uid = ds["uid"].as_str().unwrap_or_default();
            assert!(uid == "${DS_PROMETHEUS}" || uid == "prometheus", "{file}: {what}: datasource uid {uid:?}");
            if uid == "${DS_PROMETHEUS}" {
                let var = ds_var.unwrap_or_else(|| panic!("{file}: uses ${{DS_PROMETHEUS}} but has no such variable"));
                assert_eq!((&var["type"], &var["query"]), (&json!("datasource"), &json!("prometheus")), "{file}");
            }
        };
        let panels = all_panels(&d);
        assert!(panels.iter().any(|p| p["type"] != "row"), "{file}: no panels");
        let mut ids = BTreeSet::new();
        for p in &panels {
            let title = p["title"].as_str().unwrap_or_else(|| panic!("{file}: a panel without a title: {p}"));
            let id = p["id"].as_u64().unwrap_or_else(|| panic!("{file}: panel {title:?} has no numeric id"));
            assert!(ids.insert(id), "{file}: panel id {id} ({title:?}) is used twice");
            let kind = p["type"].as_str().unwrap_or_else(|| panic!("{file}: panel {title:?} has no type"));
            let grid = &p["gridPos"];
            for k in ["h", "w", "x", "y"] {
                assert!(grid[k].is_u64(), "{file}: panel {title:?}: gridPos.{k}");
            }
            let (x, w) = (grid["x"].as_u64().unwrap_or(0), grid["w"].as_u64().unwrap_or(0));
            assert!(w >= 1 && x + w <= 24, "{file}: panel {title:?} is outside the 24-column grid");
            match kind {
                "row" => {
                    let nested = p["panels"].as_array().map_or(0, Vec::len);
                    if p["collapsed"] != true {
                        assert_eq!(nested, 0, "{file}: open row {title:?} holds panels (only collapsed rows do)");
                    }
                }
                "text" => assert!(p["options"]["content"].is_string(), "{file}: text panel {title:?} has no content"),
                _ => {
                    datasource_ok(&p["datasource"], &format!("panel {title:?}"));
                    let targets = p["targets"].as_array().map(Vec::as_slice).unwrap_or_default();
                    assert!(!targets.is_empty(), "{file}: panel {title:?} has no query");
                    let mut refs = BTreeSet::new();
                    for t in targets {
                        let r =
                            t["refId"].as_str().unwrap_or_else(|| panic!("{file}: {title:?}: a target without refId"));
                        assert!(refs.insert(r), "{file}: {title:?}: refId {r} twice");
                        assert!(
                            t["expr"].as_str().is_some_and(|e| !e.trim().is_empty()),
                            "{file}: {title:?} {r}: no expr"
                        );
                        if !t["datasource"].is_null() {
                            datasource_ok(&t["datasource"], &format!("panel {title:?} {r}"));
                        }
                    }
                }
            }
        }
        for v in &variables {
            if v["type"] == "query" {
                datasource_ok(&v["datasource"], &format!("variable {}", v["name"]));
            }
        }
        for q in queries(&file, &d) {
            for var in variables_in(&q.expr) {
                assert!(
                    BUILTIN_VARIABLES.contains(&var.as_str()) || names.contains(var.as_str()),
                    "{}: uses ${var}, which is neither Grafana's nor a variable of the dashboard",
                    q.place
                );
            }
        }
    }
}

#[test]
fn the_provisioning_files_name_the_dashboards_datasource_and_folder() {
    let dir = repo().join("deploy/grafana/provisioning");
    let ds = std::fs::read_to_string(dir.join("datasources/prometheus.yaml")).expect("datasource provisioning");
    for needle in ["apiVersion: 1", "type: prometheus", "uid: prometheus", "isDefault: true"] {
        assert!(ds.lines().any(|l| l.trim() == needle), "datasources/prometheus.yaml lacks `{needle}`");
    }
    let provider = std::fs::read_to_string(dir.join("dashboards/whistle.yaml")).expect("dashboard provisioning");
    assert!(provider.lines().any(|l| l.trim() == "type: file"), "dashboards/whistle.yaml: a file provider");
    assert!(
        provider.lines().any(|l| l.trim() == "path: /var/lib/grafana/dashboards/whistle"),
        "dashboards/whistle.yaml: the path the README mounts the dashboards at"
    );
    // The ConfigMap generator lists every dashboard file.
    let kustomization =
        std::fs::read_to_string(repo().join("deploy/grafana/kustomization.yaml")).expect("kustomization");
    for (file, _) in dashboards() {
        assert!(kustomization.contains(&format!("dashboards/{file}")), "kustomization.yaml does not list {file}");
    }
}

fn which(binary: &str) -> PathBuf {
    ["/usr/bin", "/usr/local/bin", "/usr/sbin"]
        .iter()
        .map(|d| Path::new(d).join(binary))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "{binary} is not installed: run the tests with `cargo xtask test` (deploy/dev/prometheus.sh install)"
            )
        })
}

#[test]
fn every_dashboard_query_is_valid_promql_for_promtool() {
    let mut rules = String::from("groups:\n  - name: dashboards\n    rules:\n");
    let mut places = Vec::new();
    for (file, d) in dashboards() {
        for q in queries(&file, &d) {
            rules.push_str(&format!(
                "      - record: dashboard_query_{}\n        expr: {}\n",
                places.len(),
                serde_json::to_string(&substitute_variables(&q.expr)).expect("json")
            ));
            places.push(format!("dashboard_query_{}: {} `{}`", places.len(), q.place, q.expr));
        }
    }
    let path = std::env::temp_dir().join(format!("whistle-dashboard-queries-{}.yml", std::process::id()));
    std::fs::write(&path, rules).expect("written");
    let out =
        std::process::Command::new(which("promtool")).arg("check").arg("rules").arg(&path).output().expect("runs");
    let _ = std::fs::remove_file(&path);
    assert!(
        out.status.success(),
        "{}{}\nqueries:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        places.join("\n")
    );
}

// The checker itself, against a made-up exposition: it must find what is wrong.

const EXPOSITION: &str = r#"# HELP whistle_gateway_websocket_closed_total Sessions closed, by reason
# TYPE whistle_gateway_websocket_closed_total counter
whistle_gateway_websocket_closed_total{reason="client"} 3
# TYPE whistle_gateway_websocket_connections gauge
whistle_gateway_websocket_connections 2
# TYPE whistle_sla_time_to_acknowledge_seconds histogram
whistle_sla_time_to_acknowledge_seconds_bucket{district="500103",department="500103-EE",le="600"} 1
whistle_sla_time_to_acknowledge_seconds_bucket{district="500103",department="500103-EE",le="+Inf"} 1
whistle_sla_time_to_acknowledge_seconds_sum{district="500103",department="500103-EE"} 4.5
whistle_sla_time_to_acknowledge_seconds_count{district="500103",department="500103-EE"} 1
# TYPE whistle_sla_overdue_cases gauge
whistle_sla_overdue_cases{district="500103"} 1
whistle_sla_open_cases{district="a \"quoted\", odd = value"} 1
"#;

fn sample() -> Exported {
    let mut e = Exported::default();
    e.parse(EXPOSITION);
    e
}

fn check(expr: &str) -> Vec<String> {
    let exported = sample();
    let rules = recording_rules(
        "groups:\n  - name: t\n    rules:\n      - record: whistle:sla_overdue_cases:max\n        expr: max by (district) (whistle_sla_overdue_cases)\n      - record: whistle:ratio\n        expr: |\n          sum by (district) (rate(whistle_sla_time_to_acknowledge_seconds_bucket{le=\"600\"}[1h]))\n            / sum by (district) (rate(whistle_sla_time_to_acknowledge_seconds_count[1h]))\n      - alert: X\n        expr: whistle:ratio < 0.9\n",
    );
    assert_eq!(rules.len(), 2, "{rules:?}");
    let (checker, problems) = Checker::new(&exported, &rules);
    assert!(problems.is_empty(), "{problems:?}");
    checker.check("test", expr)
}

#[test]
fn the_checker_accepts_what_is_exported() {
    for expr in [
        r#"sum by (reason) (rate(whistle_gateway_websocket_closed_total{reason="slow_consumer"}[$__rate_interval]))"#,
        "histogram_quantile(0.9, sum by (le, district) (rate(whistle_sla_time_to_acknowledge_seconds_bucket[5m])))",
        "sum(rate(whistle_sla_time_to_acknowledge_seconds_sum[1h])) / sum(rate(whistle_sla_time_to_acknowledge_seconds_count[1h]))",
        r#"sort_desc(whistle:sla_overdue_cases:max{district=~"$district"} > 0)"#,
        "sum by (instance) (whistle_gateway_websocket_connections)",
        "sum(whistle_gateway_websocket_connections) by (job)",
        "whistle:ratio{district=\"500103\"} < bool 0.9",
        "max without (district) (whistle_sla_open_cases) # a comment",
        "count by (district) (whistle_sla_overdue_cases)",
        "(whistle_sla_overdue_cases - 1) * on (district) group_left whistle_sla_open_cases",
    ] {
        assert_eq!(check(expr), Vec::<String>::new(), "{expr}");
    }
}

#[test]
fn the_checker_names_a_typo_in_a_metric_a_label_or_a_function() {
    let one = |expr: &str, needle: &str| {
        let problems = check(expr);
        assert!(problems.iter().any(|p| p.contains(needle)), "{expr}: expected {needle:?} in {problems:?}");
    };
    one(
        "sum(rate(whistle_gateway_websocket_close_total[5m]))",
        "metric `whistle_gateway_websocket_close_total` is not exported by any service (did you mean `whistle_gateway_websocket_closed_total`?)",
    );
    one(
        r#"whistle_gateway_websocket_closed_total{reasons="x"}"#,
        "label `reasons` is not on `whistle_gateway_websocket_closed_total`",
    );
    one("sum by (district) (whistle_gateway_websocket_connections)", "`by (district)` names a label none of");
    one("sum(rate(whistle_gateway_websocket_closed_total[5m])) by (stage)", "`by (stage)`");
    one("whistle_sla_overdue_cases * on (town) whistle_sla_open_cases", "`on (town)`");
    one(
        "whistle:sla_overdue_cases:max{department=\"x\"}",
        "label `department` is not on `whistle:sla_overdue_cases:max`",
    );
    one("whistle:nothing", "is not a recording rule");
    one("rates(whistle_gateway_websocket_closed_total[5m])", "unknown function rates()");
    one("rate(whistle_gateway_websocket_connections[5m])", "a gauge, not a counter");
    one("whistle_sla_time_to_acknowledge_seconds", "is a histogram");
    one(
        "histogram_quantile(0.9, sum by (district) (rate(whistle_sla_time_to_acknowledge_seconds_bucket[5m])))",
        "drops `le`",
    );
    one("sum(whistle_sla_overdue_cases", "expected");
}

#[test]
fn grafana_variables_are_found_and_replaced() {
    assert_eq!(
        variables_in(r#"sum(rate(x{d=~"$district"}[$__rate_interval])) + ${other:regex} + [[old]]"#),
        ["district", "__rate_interval", "other", "old"]
    );
    assert_eq!(substitute_variables(r#"rate(x{d=~"$district"}[$__rate_interval])"#), r#"rate(x{d=~"x"}[1m])"#);
    assert_eq!(
        promql::variable_query("label_values(whistle_sla_open_cases, district)").as_deref(),
        Some("count by (district) (whistle_sla_open_cases)")
    );
}
