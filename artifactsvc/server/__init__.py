"""Running the app: uvicorn with the connection bounds it lacks (protocol.py) and a shutdown
that drains (shutdown.py). `cli.serve` is the one caller."""
