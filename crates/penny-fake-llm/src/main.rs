//! `penny-fake-llm`: the fake model server on a fixed port, for demos and benchmarks.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use penny_fake_llm::FakeOptions;

/// A fake OpenAI- and Anthropic-compatible streaming model server.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port to listen on.
    #[arg(long, default_value_t = 4010)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: std::net::IpAddr,
    /// Pause between two tokens, in milliseconds.
    #[arg(long, default_value_t = 0)]
    token_delay_ms: u64,
    /// Tokens in a reply unless a message says `[[tokens=N]]`.
    #[arg(long, default_value_t = 8)]
    tokens: usize,
    /// Require this API key (Bearer or x-api-key).
    #[arg(long, env = "FAKE_LLM_API_KEY")]
    api_key: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let options = FakeOptions {
        default_tokens: args.tokens,
        token_delay: Duration::from_millis(args.token_delay_ms),
        require_api_key: args.api_key,
    };
    let server = penny_fake_llm::spawn_on(SocketAddr::new(args.host, args.port), options).await?;
    println!("penny-fake-llm listening on http://{}", server.addr);
    println!("  OpenAI base URL:    {}", server.openai_base());
    println!("  Anthropic base URL: {}", server.anthropic_base());
    tokio::signal::ctrl_c().await?;
    server.shutdown().await
}
