//! Assisted enforcement through the API: item suggestion, and each electronic fence seen on the
//! case timeline and on a live board. In-process services against the real Kafka and Redis.

use serde_json::Value;
use whistle_tests::*;

async fn suggest(stack: &Stack, text: &str) -> (u16, Value) {
    let resp = stack
        .http
        .get(format!("{}/api/v1/assist/suggest", stack.api))
        .query(&[("text", text)])
        .send()
        .await
        .expect("request is sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chinese_description_suggests_the_item_with_its_names_and_matched_terms() {
    let stack = Stack::start().await;
    let (status, body) = suggest(&stack, "河边有废油桶泄漏，味道很大").await;
    assert_eq!(status, 200, "{body}");
    let first = &body["suggestions"][0];
    assert_eq!(first["item"], DEPT_ITEM, "{body}");
    assert_eq!(first["names"]["zh"], "非法处置危险废物");
    assert!(first["score"].as_f64().expect("a score") > 0.0);
    assert!(!first["matched"].as_array().expect("matched terms").is_empty());
    let scores: Vec<f64> =
        body["suggestions"].as_array().expect("list").iter().map(|s| s["score"].as_f64().unwrap_or(0.0)).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "best first: {scores:?}");

    let (status, body) = suggest(&stack, "someone is blocking the fire exit with boxes").await;
    assert_eq!(status, 200);
    assert_eq!(body["suggestions"][0]["item"], "CQ-FIRE-002", "{body}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_suggestion_input_gets_a_clear_answer_never_a_panic() {
    let stack = Stack::start().await;
    for blank in ["", "   "] {
        let (status, body) = suggest(&stack, blank).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"]["code"], "invalid_field");
        assert!(body["error"]["message"].as_str().unwrap_or("").starts_with("text:"), "{body}");
    }
    let (status, body) = stack.get("/api/v1/assist/suggest").await;
    assert_eq!(status, 400, "no text at all: {body}");

    let (status, body) = suggest(&stack, &"河边有油桶".repeat(600)).await;
    assert_eq!(status, 400, "3,000 characters in the URL");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("at most 2000"), "{body}");
    // 100 KB does not fit in a URL at all; pasted into the POST form it meets the body limit.
    let (status, body) =
        stack.post("/api/v1/assist/suggest", &serde_json::json!({"text": "油".repeat(100 * 1024 / 3)})).await;
    assert_eq!(status, 413, "100 KB of text");
    assert_eq!(body["error"]["code"], "body_too_large");
    let (status, body) = stack.post("/api/v1/assist/suggest", &serde_json::json!({"text": "河边有废油桶"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestions"][0]["item"], DEPT_ITEM);

    let (status, body) = suggest(&stack, "油桶\u{7}泄漏").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap_or("").contains("control character"), "{body}");

    let (status, body) = suggest(&stack, "🔥🔥🔥").await;
    assert_eq!(status, 200, "emoji alone is a valid query with nothing to match: {body}");
    assert_eq!(body["suggestions"], serde_json::json!([]));

    let (status, body) = suggest(&stack, "电瓶车在楼道charge，太危险了⚡").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["suggestions"][0]["item"], "CQ-FIRE-003", "mixed scripts with emoji: {body}");

    let (status, body) = stack.get("/api/v1/assist/suggest?text=x&limit=99").await;
    assert_eq!(status, 400, "{body}");
    stack.stop().await;
}
