// Tornado's WebSocket chat demo client, without jQuery. Messages go to the server over
// a WebSocket at /chatsocket as JSON ({"body": text}); each message the server sends
// ({"id", "body", "html"}, the html rendered and escaped by the server) is added to
// the inbox once. The socket reconnects when it drops, asking for the messages after
// the last one shown, so none is missed or shown twice.
"use strict";

const updater = {
    socket: null,
    retryDelay: 500,

    start() {
        const args = new URLSearchParams();
        // The page's XSRF token: the server checks it against the _xsrf cookie.
        const xsrf = document.querySelector("#messageform input[name=_xsrf]");
        if (xsrf) {
            args.set("_xsrf", xsrf.value);
        }
        const shown = document.querySelectorAll("#inbox .message");
        if (shown.length > 0) {
            args.set("cursor", shown[shown.length - 1].id.slice(1));
        }
        const scheme = location.protocol === "https:" ? "wss://" : "ws://";
        const socket = new WebSocket(scheme + location.host + "/chatsocket?" + args);
        updater.socket = socket;
        socket.onopen = () => {
            updater.retryDelay = 500;
        };
        socket.onmessage = (event) => {
            updater.showMessage(JSON.parse(event.data));
        };
        socket.onclose = (event) => {
            if (updater.socket !== socket) {
                return;
            }
            updater.socket = null;
            console.log("WebSocket closed (" + event.code + "); reconnecting in", updater.retryDelay, "ms");
            setTimeout(updater.start, updater.retryDelay);
            updater.retryDelay = Math.min(updater.retryDelay * 2, 30000);
        };
    },

    send(body) {
        const socket = updater.socket;
        if (socket === null || socket.readyState !== WebSocket.OPEN) {
            return false;
        }
        socket.send(JSON.stringify({ body: body }));
        return true;
    },

    showMessage(message) {
        if (document.getElementById("m" + message.id)) {
            return;
        }
        const holder = document.createElement("template");
        holder.innerHTML = message.html;
        const node = holder.content.firstElementChild;
        document.getElementById("inbox").append(node);
        node.scrollIntoView();
    },
};

function newMessage(form) {
    const input = form.querySelector("#message");
    if (input.value === "") {
        return;
    }
    if (updater.send(input.value)) {
        input.value = "";
    } else {
        // Not connected: the text stays in the box to send again.
        console.log("Not connected; the message was not sent");
    }
    input.select();
}

document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("messageform");
    // Enter in the text box submits the form too.
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        newMessage(form);
    });
    document.getElementById("message").select();
    updater.start();
});
