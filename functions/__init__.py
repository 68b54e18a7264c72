"""One folder per Lambda function; each handler.py is thin: parse -> call shared/ -> map result."""
