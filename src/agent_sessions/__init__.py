"""agent-sessions: persistent AI-agent sessions on Cloudflare Durable Objects, mirrored to D1."""

__version__ = "0.1.0"
