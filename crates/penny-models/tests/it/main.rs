//! The real clients against `penny-fake-llm`, for both wire formats: every behaviour is
//! checked once per provider (`openai::…` and `anthropic::…`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

use std::time::{Duration, Instant};

use penny_fake_llm::FakeOptions;
use penny_models::{ChatMessage, ChatRequest, Provider, ProviderError, StreamEvent, ToolCall};
use serde_json::json;

use helpers::{collect, endpoint, fake, say, text_of, weather_tool};

async fn plain_reply_streams_tokens_in_order_then_usage_and_done(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let prompt = "hello world [[tokens=5]]";
    let run = collect(
        &endpoint(&fake, provider),
        &say(prompt),
        Duration::from_secs(5),
    )
    .await;

    let deltas: Vec<&str> = run.deltas();
    assert_eq!(deltas, ["Echo:", " hello", " world", " t4", " t5"]);
    let usage_and_done = &run.events[deltas.len()..];
    assert_eq!(
        usage_and_done,
        [
            StreamEvent::Usage {
                input_tokens: prompt.len().div_ceil(4) as u64,
                output_tokens: 5
            },
            StreamEvent::Done {
                finish_reason: match provider {
                    Provider::OpenAi => "stop",
                    Provider::Anthropic => "end_turn",
                }
                .into()
            },
        ]
    );
    assert_eq!(run.error, None);
    assert_eq!(fake.last_request().unwrap()["stream"], true);
}

async fn default_reply_has_the_configured_number_of_tokens(provider: Provider) {
    let fake = fake(FakeOptions {
        default_tokens: 3,
        ..FakeOptions::default()
    })
    .await;
    let run = collect(
        &endpoint(&fake, provider),
        &say("hi"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(run.deltas(), ["Echo:", " hi", " t3"]);
    assert!(run.is_done());
}

async fn tool_call_is_assembled_from_streamed_pieces(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let args = json!({"city": "Paris", "days": 3, "units": ["c", "f"]});
    let mut request = say(&format!("weather? [[tool=get_weather args={args}]]"));
    request.tools.push(weather_tool());

    let run = collect(&endpoint(&fake, provider), &request, Duration::from_secs(5)).await;

    assert!(run.deltas().is_empty(), "{:?}", run.events);
    let calls = run.tool_calls();
    assert_eq!(calls.len(), 1, "{:?}", run.events);
    assert_eq!(calls[0].name, "get_weather");
    assert!(!calls[0].id.is_empty());
    let parsed: serde_json::Value = serde_json::from_str(&calls[0].arguments).unwrap();
    assert_eq!(parsed, args);
    assert_eq!(
        run.finish_reason(),
        Some(match provider {
            Provider::OpenAi => "tool_calls",
            Provider::Anthropic => "tool_use",
        })
    );
    let sent = fake.last_request().unwrap();
    let tool_name = match provider {
        Provider::OpenAi => &sent["tools"][0]["function"]["name"],
        Provider::Anthropic => &sent["tools"][0]["name"],
    };
    assert_eq!(tool_name, "get_weather");
}

async fn tool_result_is_fed_back_and_answered(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let ep = endpoint(&fake, provider);
    let mut request = say(r#"weather? [[tool=get_weather args={"city":"Paris"}]]"#);
    request.tools.push(weather_tool());
    let first = collect(&ep, &request, Duration::from_secs(5)).await;
    let call: ToolCall = first.tool_calls()[0].clone();

    request.messages.push(ChatMessage::Assistant {
        content: String::new(),
        tool_calls: vec![call.clone()],
    });
    request.messages.push(ChatMessage::Tool {
        call_id: call.id.clone(),
        content: "sunny, 21 °C".into(),
    });
    let second = collect(&ep, &request, Duration::from_secs(5)).await;

    assert_eq!(text_of(&second.events), "Tool result: sunny, 21 °C");
    assert!(second.tool_calls().is_empty());
    assert!(second.is_done());
    let sent = fake.last_request().unwrap();
    let messages = sent["messages"].as_array().unwrap();
    let last = &messages[messages.len() - 1];
    match provider {
        Provider::OpenAi => {
            assert_eq!(last["role"], "tool");
            assert_eq!(last["tool_call_id"], call.id.as_str());
            assert_eq!(
                messages[messages.len() - 2]["tool_calls"][0]["id"],
                call.id.as_str()
            );
        }
        Provider::Anthropic => {
            assert_eq!(last["role"], "user");
            assert_eq!(last["content"][0]["type"], "tool_result");
            assert_eq!(last["content"][0]["tool_use_id"], call.id.as_str());
            assert_eq!(
                messages[messages.len() - 2]["content"][0]["input"],
                json!({"city": "Paris"})
            );
        }
    }
}

async fn rate_limit_is_retryable_with_retry_after(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let err = helpers::start_error(&endpoint(&fake, provider), &say("hi [[status=429]]")).await;
    match &err {
        ProviderError::RateLimited {
            retry_after,
            message,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(1)));
            assert!(message.contains("scripted failure"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(err.code(), "provider_rate_limited");
}

async fn wrong_api_key_is_an_auth_error(provider: Provider) {
    let fake = fake(FakeOptions {
        require_api_key: Some("sk-right".into()),
        ..FakeOptions::default()
    })
    .await;
    let mut ep = endpoint(&fake, provider);
    ep.api_key = Some("sk-wrong".into());
    let err = helpers::start_error(&ep, &say("hi")).await;
    assert!(
        matches!(&err, ProviderError::Auth { status: 401, message } if message.contains("key")),
        "{err:?}"
    );
    assert_eq!(err.code(), "provider_auth");
    assert!(!err.is_retryable());

    ep.api_key = Some("sk-right".into());
    assert!(collect(&ep, &say("hi"), Duration::from_secs(5))
        .await
        .is_done());
}

async fn scripted_401_is_an_auth_error(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let err = helpers::start_error(&endpoint(&fake, provider), &say("[[status=401]]")).await;
    assert!(
        matches!(err, ProviderError::Auth { status: 401, .. }),
        "{err:?}"
    );
}

async fn service_unavailable_is_a_retryable_upstream_error(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let err = helpers::start_error(&endpoint(&fake, provider), &say("hi [[status=503]]")).await;
    assert!(
        matches!(err, ProviderError::Upstream { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert_eq!(err.code(), "provider_error");
}

async fn dropped_connection_mid_stream_is_disconnected(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let run = collect(
        &endpoint(&fake, provider),
        &say("one two three four five [[disconnect_after=3]]"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(run.deltas(), ["Echo:", " one", " two"]);
    let err = run.error.unwrap();
    assert!(matches!(err, ProviderError::Disconnected(_)), "{err:?}");
    assert_eq!(err.code(), "provider_disconnected");
    assert!(!err.is_retryable());
}

async fn stalled_stream_times_out(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let started = Instant::now();
    let run = collect(
        &endpoint(&fake, provider),
        &say("one two three [[stall_after=2]]"),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(run.deltas(), ["Echo:", " one"]);
    assert_eq!(run.error, Some(ProviderError::Timeout));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
    assert!(ProviderError::Timeout.is_retryable());
}

async fn fail_first_two_then_the_third_call_succeeds(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let ep = endpoint(&fake, provider);
    let request = say("flaky [[status=503 fail_first=2]]");
    for attempt in 1..=2 {
        let err = helpers::start_error(&ep, &request).await;
        assert!(
            matches!(err, ProviderError::Upstream { status: 503, .. }),
            "attempt {attempt}: {err:?}"
        );
    }
    let run = collect(&ep, &request, Duration::from_secs(5)).await;
    assert!(run.is_done(), "{run:?}");
    assert!(text_of(&run.events).starts_with("Echo: flaky"));
    assert_eq!(fake.requests(), 3);
}

async fn token_delay_paces_the_stream(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let started = Instant::now();
    let run = collect(
        &endpoint(&fake, provider),
        &say("[[tokens=4 delay_ms=40]]"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(run.deltas().len(), 4);
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
}

async fn unreachable_endpoint_is_reported_as_such(provider: Provider) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let fake = fake(FakeOptions::default()).await;
    let mut ep = endpoint(&fake, provider);
    ep.base_url = format!("http://{addr}/v1");
    let err = helpers::start_error(&ep, &say("hi")).await;
    assert!(matches!(err, ProviderError::Connect(_)), "{err:?}");
    assert_eq!(err.code(), "provider_unreachable");
    assert!(err.is_retryable());
}

async fn system_prompt_and_history_reach_the_provider(provider: Provider) {
    let fake = fake(FakeOptions::default()).await;
    let request = ChatRequest {
        system: Some("You are terse.".into()),
        messages: vec![
            ChatMessage::User {
                content: "first".into(),
            },
            ChatMessage::Assistant {
                content: "Echo: first".into(),
                tool_calls: vec![],
            },
            ChatMessage::User {
                content: "second".into(),
            },
        ],
        tools: vec![],
    };
    let run = collect(&endpoint(&fake, provider), &request, Duration::from_secs(5)).await;
    assert!(text_of(&run.events).starts_with("Echo: second"));
    let chars = "You are terse.firstEcho: firstsecond".len() as u64;
    assert!(run.events.contains(&StreamEvent::Usage {
        input_tokens: chars.div_ceil(4),
        output_tokens: 8
    }));
    let sent = fake.last_request().unwrap();
    match provider {
        Provider::OpenAi => {
            assert_eq!(
                sent["messages"][0],
                json!({"role": "system", "content": "You are terse."})
            );
            assert_eq!(sent["stream_options"]["include_usage"], true);
        }
        Provider::Anthropic => {
            assert_eq!(sent["system"], "You are terse.");
            assert_eq!(sent["messages"].as_array().unwrap().len(), 3);
        }
    }
}

/// Each behaviour, once per provider.
macro_rules! for_each_provider {
    ($($behaviour:ident),* $(,)?) => {
        mod openai {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour(penny_models::Provider::OpenAi).await;
                }
            )*
        }
        mod anthropic {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour(penny_models::Provider::Anthropic).await;
                }
            )*
        }
    };
}

for_each_provider!(
    plain_reply_streams_tokens_in_order_then_usage_and_done,
    default_reply_has_the_configured_number_of_tokens,
    tool_call_is_assembled_from_streamed_pieces,
    tool_result_is_fed_back_and_answered,
    rate_limit_is_retryable_with_retry_after,
    wrong_api_key_is_an_auth_error,
    scripted_401_is_an_auth_error,
    service_unavailable_is_a_retryable_upstream_error,
    dropped_connection_mid_stream_is_disconnected,
    stalled_stream_times_out,
    fail_first_two_then_the_third_call_succeeds,
    token_delay_paces_the_stream,
    unreachable_endpoint_is_reported_as_such,
    system_prompt_and_history_reach_the_provider,
);
