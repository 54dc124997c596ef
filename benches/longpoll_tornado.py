#!/usr/bin/env python3
"""Tornado's chat demo (demos/chat in Tornado's repository) on Python Tornado, reduced
to what benches/longpoll.py measures: the Python side of the long-polling fan-out.

usage: python3 benches/longpoll_tornado.py [--port 8888] [--address 127.0.0.1]

The endpoints are the demo's, with XSRF cookies off and no template files:
  POST /a/message/new      form `body=TEXT` -> the message as JSON
                           {"id": ..., "body": ..., "html": ...}
  POST /a/message/updates  optional form `cursor=ID` -> waits until a message newer
                           than the cursor exists, then {"messages": [...]}
  GET  /                   the page with the cached messages and a form

The model is the demo's: one MessageBuffer keeps the last 200 messages and a
tornado.locks.Condition; a new message is appended and the condition notified, which
wakes every waiting MessageUpdatesHandler; a waiter whose client goes away cancels its
wait in on_connection_close. Debug mode (and so autoreload) is off, and no access log
is printed, so the benchmark measures the server.
"""
import argparse
import asyncio
import uuid

import tornado.escape
import tornado.locks
import tornado.web

# How many messages the buffer keeps, as in the demo.
CACHE_SIZE = 200


class MessageBuffer:
    """The last CACHE_SIZE messages, and a condition notified on each new one."""

    def __init__(self, cache_size=CACHE_SIZE):
        self.cond = tornado.locks.Condition()
        self.cache = []
        self.cache_size = cache_size

    def get_messages_since(self, cursor):
        """The cached messages after the one whose id is `cursor`, oldest first.

        With no cursor, or one that has left the cache, every cached message is new.
        """
        newer = []
        for message in reversed(self.cache):
            if message["id"] == cursor:
                break
            newer.append(message)
        newer.reverse()
        return newer

    def add_message(self, message):
        self.cache.append(message)
        del self.cache[: -self.cache_size]
        self.cond.notify_all()


def message_html(message):
    """The demo's message.html template, without the template engine."""
    body = tornado.escape.xhtml_escape(message["body"])
    return f'<div class="message" id="m{message["id"]}">{body}</div>\n'


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        inbox = "".join(m["html"] for m in self.application.messages.cache)
        self.write(
            "<!DOCTYPE html>\n<html><head><meta charset=\"UTF-8\">"
            "<title>Tornado Chat Demo</title></head><body>\n"
            f"<div id=\"inbox\">\n{inbox}</div>\n"
            "<form action=\"/a/message/new\" method=\"post\">"
            "<input name=\"body\" autocomplete=\"off\">"
            "<input type=\"hidden\" name=\"next\" value=\"/\">"
            "<input type=\"submit\" value=\"Post\"></form>\n</body></html>\n"
        )


class MessageNewHandler(tornado.web.RequestHandler):
    """Posts a message: answers it as JSON (or redirects to `next`), then wakes the
    waiters."""

    def post(self):
        message = {"id": str(uuid.uuid4()), "body": self.get_argument("body")}
        message["html"] = message_html(message)
        next_url = self.get_argument("next", None)
        if next_url:
            # Only local paths: anything else would be an open redirect.
            if next_url.startswith("//") or not next_url.startswith("/"):
                raise tornado.web.HTTPError(400)
            self.redirect(next_url)
        else:
            self.write(message)
        self.application.messages.add_message(message)


class MessageUpdatesHandler(tornado.web.RequestHandler):
    """The long poll: answers once there are messages newer than `cursor`."""

    wait_future = None

    async def post(self):
        messages = self.application.messages
        cursor = self.get_argument("cursor", None)
        newer = messages.get_messages_since(cursor)
        while not newer:
            # Kept so that on_connection_close can cancel it.
            self.wait_future = messages.cond.wait()
            try:
                await self.wait_future
            except asyncio.CancelledError:
                return
            newer = messages.get_messages_since(cursor)
        if self.request.connection.stream.closed():
            return
        self.write({"messages": newer})

    def on_connection_close(self):
        if self.wait_future is not None:
            self.wait_future.cancel()


def make_app():
    app = tornado.web.Application(
        [
            (r"/", MainHandler),
            (r"/a/message/new", MessageNewHandler),
            (r"/a/message/updates", MessageUpdatesHandler),
        ],
        xsrf_cookies=False,
    )
    app.messages = MessageBuffer()
    return app


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args()
    make_app().listen(args.port, address=args.address)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
