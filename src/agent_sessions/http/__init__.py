"""The HTTP API: FastAPI only (the app, its routes, its errors, its body guard), over the
use cases in service/."""
