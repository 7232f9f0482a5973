"""Worker shells: the Durable Object and the gateway entrypoint. Only these touch `workers`/`js`."""
