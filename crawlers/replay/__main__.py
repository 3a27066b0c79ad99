"""`python -m crawlers.replay [--port N]`: serve the replay web in the foreground."""

from crawlers.replay.server import main

main()
