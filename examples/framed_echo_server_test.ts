// The framed echo server example, end to end over loopback on each runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import type net from "node:net";
import { runEchoClient, startEchoServer } from "./framed_echo_server.ts";

test("framed echo server: every frame comes back intact", async () => {
  const server = await startEchoServer(0);
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await runEchoClient(port, 3000);
    assert.equal(r.frames, 3000, "every frame was echoed");
    assert.equal(r.bad, 0, "byte for byte");
  } finally {
    server.close();
  }
});

test("framed echo server: a small budget makes it wait, not fail", async () => {
  const server = await startEchoServer(0, 64 * 1024); // two 32 KiB pages
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await runEchoClient(port, 3000);
    assert.equal(r.frames, 3000);
    assert.equal(r.bad, 0);
  } finally {
    server.close();
  }
});
