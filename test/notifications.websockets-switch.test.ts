/**
 * WEBSOCKETS_ENABLED=false: the realtime routes answer like paths that do not exist,
 * and notifications still reach the REST list.
 */
import { describe, expect, it } from "vitest";
import { person } from "./support/factories";
import { apiWith, jsonOf, problemOf } from "./support/http";

const off = { WEBSOCKETS_ENABLED: "false" } as const;

describe("WEBSOCKETS_ENABLED=false", () => {
  it("GET /ws and POST /ws-ticket are 404, like unknown paths; the REST list still works", async () => {
    const ada = await person();
    const ticket = await problemOf(
      await apiWith(off, "POST", "/api/v1/notifications/ws-ticket", { token: ada.token }),
      404,
    );
    expect(ticket).toMatchObject({
      code: "not_found",
      detail: "No route matches POST /api/v1/notifications/ws-ticket.",
    });
    const socket = await apiWith(off, "GET", "/api/v1/notifications/ws", {
      token: ada.token,
      headers: { upgrade: "websocket" },
    });
    expect((await problemOf(socket, 404)).code).toBe("not_found");
    const list = await apiWith(off, "GET", "/api/v1/notifications", { token: ada.token });
    expect(await jsonOf<{ data: unknown[] }>(list, 200)).toHaveProperty("data");
  });

  it("another method on /ws-ticket answers as on a path with no such route while off", async () => {
    const ada = await person();
    // /{id} answers GET and DELETE on any sibling path; only the ticket route adds POST.
    const nothing = await apiWith({}, "PUT", "/api/v1/notifications/no-route-here", { token: ada.token });
    const offRes = await apiWith(off, "PUT", "/api/v1/notifications/ws-ticket", { token: ada.token });
    expect((await problemOf(offRes, 405)).code).toBe("method_not_allowed");
    expect(offRes.headers.get("allow")).toBe(nothing.headers.get("allow"));
    expect(offRes.headers.get("allow")).not.toContain("POST");
    const onRes = await apiWith({}, "PUT", "/api/v1/notifications/ws-ticket", { token: ada.token });
    expect((await problemOf(onRes, 405)).code).toBe("method_not_allowed");
    expect(onRes.headers.get("allow")?.split(", ")).toContain("POST");
  });

  it("on by default: a ticket is issued", async () => {
    const ada = await person();
    const res = await apiWith({}, "POST", "/api/v1/notifications/ws-ticket", { token: ada.token });
    expect(res.status).toBe(201);
  });
});
