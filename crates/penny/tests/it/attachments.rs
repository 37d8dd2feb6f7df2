//! Files attached to a message: checked against the caller's uploads, kept on the message,
//! and told to the model; the kinds of artifact asked for reach the model's instructions.

use serde_json::{json, Value};

use crate::chat::Chat;
use crate::common::*;
use crate::tools::upload;

async fn uploaded(chat: &Chat, token: &str, name: &str, bytes: &[u8]) -> String {
    let res = upload(&chat.app, token, name, bytes.to_vec()).await;
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    file["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attached_files_are_kept_on_the_message_and_told_to_the_model() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let csv = uploaded(
        &chat,
        &chat.root,
        "sales.csv",
        b"month,total\njan,3\nfeb,5\n",
    )
    .await;
    let txt = uploaded(&chat, &chat.root, "notes.txt", b"plain words").await;
    chat.send(
        &conv,
        json!({"content": "Sum the totals", "attachments": [csv, txt],
               "artifactsExpected": ["chart"]}),
    )
    .await;
    let branch = chat.settled(&conv).await;
    let files = branch[0]["attachments"].as_array().unwrap();
    assert_eq!(files.len(), 2, "{}", branch[0]);
    assert_eq!(files[0]["id"], csv.as_str());
    assert_eq!(files[0]["filename"], "sales.csv");
    assert_eq!(files[0]["mime"], "text/csv");
    assert_eq!(files[0]["size"], 24);
    assert_eq!(files[1]["filename"], "notes.txt");
    assert_eq!(branch[1]["attachments"], json!([]), "the answer has none");

    // The provider saw the files' names and ids, and the artifact asked for.
    let request = chat.fake.last_request().unwrap().to_string();
    assert!(
        request.contains("sales.csv") && request.contains(&csv),
        "{request}"
    );
    assert!(request.contains(&txt), "{request}");
    assert!(request.contains("python_execute"), "{request}");
    assert!(request.contains("artifacts: chart"), "{request}");

    // A later turn still carries the earlier message's files in its history.
    chat.send(&conv, json!({"content": "And the average?"}))
        .await;
    chat.settled(&conv).await;
    let request = chat.fake.last_request().unwrap().to_string();
    assert!(request.contains(&csv), "{request}");
    assert!(!request.contains("artifacts: chart"), "asked once only");
    chat.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_attachments_are_refused_and_nothing_is_stored() {
    let chat = Chat::start().await;
    let conv = chat.conversation(&chat.root).await;
    let mine = uploaded(&chat, &chat.root, "mine.txt", b"mine").await;
    // Another user of the same tenant uploads a file: not the caller's to attach.
    let (_, other) = chat
        .app
        .user_with_role(&chat.root, "default", "creator")
        .await;
    let theirs = uploaded(&chat, &other, "theirs.txt", b"theirs").await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let path = format!("/api/v1/chat/{conv}/messages");
    let cases = [
        json!({"content": "x", "attachments": [unknown]}),
        json!({"content": "x", "attachments": [theirs]}),
        json!({"content": "x", "attachments": [mine, mine]}),
        json!({"content": "x", "attachments": vec![mine.clone(); 21]}),
        json!({"content": "x", "attachments": ["not-a-uuid"]}),
        json!({"content": "x", "artifactsExpected": [""]}),
    ];
    for body in cases {
        let res = chat.app.post(&chat.root, &path, body.clone()).await;
        let problem = assert_problem(res, 422, "validation_failed").await;
        let said = problem.to_string();
        assert!(
            said.contains("attachments") || said.contains("artifactsExpected"),
            "{body}: {said}"
        );
    }
    // Nothing was written: no message, no run, the conversation is as it was.
    let res = chat
        .app
        .get(
            &chat.root,
            &format!("/api/v1/conversations/{conv}/messages"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let listed: Value = res.json().await.unwrap();
    let empty = listed
        .as_array()
        .map(Vec::is_empty)
        .unwrap_or_else(|| listed["items"].as_array().is_some_and(Vec::is_empty));
    assert!(empty, "{listed}");
    chat.stop().await;
}
