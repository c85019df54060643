"""The toy web framework of web/frameworks.md: a router and a request object on WSGI.

web/serving.md serves the same application with real servers."""

# --8<-- [start:framework]
import json
import re
from urllib.parse import parse_qs

class Request:
    def __init__(self, environ):
        self.method = environ["REQUEST_METHOD"]
        self.path = environ["PATH_INFO"]
        query = parse_qs(environ["QUERY_STRING"])
        self.args = {key: values[0] for key, values in query.items()}

class App:
    def __init__(self):
        self.routes = []

    def route(self, pattern):
        def register(view):
            self.routes.append((re.compile(f"^{pattern}$"), view))
            return view
        return register

    def __call__(self, environ, start_response):  # the WSGI entry point
        request = Request(environ)
        for regex, view in self.routes:
            match = regex.match(request.path)
            if match:
                status, result = "200 OK", view(request, **match.groupdict())
                break
        else:
            status = "404 Not Found"
            result = {"error": f"no route for {request.path}"}
        data = json.dumps(result).encode("utf-8")
        start_response(status, [("Content-Type", "application/json"),
                                ("Content-Length", str(len(data)))])
        return [data]
# --8<-- [end:framework]

# --8<-- [start:routes]
app = App()

@app.route("/")
def index(request):
    return {"message": "hello"}

@app.route("/items/(?P<item_id>[0-9]+)")
def item(request, item_id):
    return {"id": int(item_id), "verbose": request.args.get("verbose") == "1"}
# --8<-- [end:routes]

# --8<-- [start:client]
from wsgiref.util import setup_testing_defaults

def get(path, query=""):
    environ = {"PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    statuses = []
    def start_response(status, headers, exc_info=None):
        statuses.append(status)
    body = b"".join(app(environ, start_response))
    url = path + ("?" + query if query else "")
    print(f"GET {url:20} -> {statuses[0]:14} {body.decode()}")

get("/")
get("/items/42", "verbose=1")
get("/nothing")
# --8<-- [end:client]
