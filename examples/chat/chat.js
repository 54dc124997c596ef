// Tornado's chat demo client, without jQuery: post messages with fetch, and long-poll
// /a/message/updates for new ones. Every POST carries the _xsrf cookie's token.
"use strict";

// The value of cookie `name`, or "" when there is none.
function cookie(name) {
    for (const pair of document.cookie.split(";")) {
        const eq = pair.indexOf("=");
        if (eq > 0 && pair.slice(0, eq).trim() === name) {
            return pair.slice(eq + 1).trim();
        }
    }
    return "";
}

const updater = {
    cursor: null,
    errorSleepTime: 500,

    poll() {
        const args = new URLSearchParams({ _xsrf: cookie("_xsrf") });
        if (updater.cursor) {
            args.set("cursor", updater.cursor);
        }
        fetch("/a/message/updates", { method: "POST", body: args })
            .then((response) => {
                if (!response.ok) {
                    throw new Error("status " + response.status);
                }
                return response.json();
            })
            .then((data) => {
                updater.errorSleepTime = 500;
                for (const message of data.messages) {
                    updater.showMessage(message);
                }
                updater.poll();
            })
            .catch((error) => {
                updater.errorSleepTime *= 2;
                console.log("Poll error (" + error + "); sleeping for", updater.errorSleepTime, "ms");
                setTimeout(updater.poll, updater.errorSleepTime);
            });
    },

    showMessage(message) {
        updater.cursor = message.id;
        if (document.getElementById("m" + message.id)) {
            return;
        }
        const holder = document.createElement("div");
        holder.innerHTML = message.html;
        const node = holder.firstElementChild;
        node.classList.add("new");
        document.getElementById("inbox").append(node);
        node.scrollIntoView();
    },
};

function newMessage(form) {
    const input = form.querySelector("#message");
    const args = new URLSearchParams({ body: input.value, _xsrf: cookie("_xsrf") });
    const disabled = form.querySelectorAll("input[type=submit]");
    disabled.forEach((b) => (b.disabled = true));
    fetch("/a/message/new", { method: "POST", body: args })
        .then((response) => response.json())
        .then((message) => {
            updater.showMessage(message);
            input.value = "";
        })
        .catch((error) => console.log("Post error:", error))
        .finally(() => {
            disabled.forEach((b) => (b.disabled = false));
            input.focus();
        });
}

document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("messageform");
    form.addEventListener("submit", (event) => {
        event.preventDefault();
        newMessage(form);
    });
    form.addEventListener("keydown", (event) => {
        if (event.key === "Enter") {
            event.preventDefault();
            newMessage(form);
        }
    });
    const messages = document.querySelectorAll("#inbox .message");
    if (messages.length > 0) {
        updater.cursor = messages[messages.length - 1].id.slice(1);
    }
    document.getElementById("message").focus();
    updater.poll();
});
