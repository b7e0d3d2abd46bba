"""The smallest useful Flask app: what `tempa build` turns into an image running gunicorn."""
import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "hello from tempa (python)\n", 200, {"Content-Type": "text/plain"}


@app.get("/healthz")
def healthz():
    return "ok\n", 200, {"Content-Type": "text/plain"}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=int(os.environ.get("PORT", "8080")))
