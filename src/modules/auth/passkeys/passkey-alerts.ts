/**
 * The `passkey_changed` security email: a passkey added to or removed from an account
 * changes how it can be signed in to, so the owner is told even when they made the
 * change (an attacker holding a session would add a passkey of their own to keep a
 * way in). Best effort: the change is already committed and audited; a failure to tell
 * is logged, never turned into an error.
 */
import { z } from "zod";
import type { User } from "../../../db/schema";
import { sendEmail } from "../../../email/send-email";
import type { ServiceContext } from "../../../lib/context";
import { serializeError } from "../../../lib/logger";
import { describeDevice, UNKNOWN_DEVICE } from "../../../lib/user-agent";
import { appBaseUrl, emailName } from "../email-links";
import { describePlace } from "../new-device.service";
import { SECURITY_SETTINGS_PATH } from "../security-events";

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

export async function emailPasskeyChange(
  ctx: ServiceContext,
  input: {
    user: Pick<User, "id" | "email" | "firstName">;
    event: "passkey_added" | "passkey_removed";
    passkeyName: string;
    at: number;
  },
): Promise<void> {
  try {
    const name = emailName(input.user);
    const device = describeDevice(ctx.client.userAgent);
    const country = ctx.client.country?.trim().toUpperCase() ?? "";
    const place = describePlace(ctx.client.city, /^[A-Z]{2}$/.test(country) ? country : "");
    const ip = ipAddress.safeParse(ctx.client.ip).data;
    await sendEmail(ctx, {
      template: "passkey_changed",
      to: input.user.email,
      data: {
        ...(name ? { name } : {}),
        event: input.event,
        passkey_name: input.passkeyName,
        ...(device !== UNKNOWN_DEVICE ? { device } : {}),
        ...(place ? { location: place } : {}),
        ...(ip ? { ip } : {}),
        occurred_at: new Date(input.at).toISOString(),
        manage_url: `${appBaseUrl(ctx)}${SECURITY_SETTINGS_PATH}`,
      },
    });
  } catch (error) {
    ctx.logger.error("could not email a passkey change", {
      user_id: input.user.id,
      event: input.event,
      error: serializeError(error),
    });
  }
}
