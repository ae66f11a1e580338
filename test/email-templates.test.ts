/**
 * Templates, rendering and the producer's checks: every template renders a complete
 * HTML document and a plain-text part from the same content, user data is escaped,
 * and data that does not fit a template never reaches the queue.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { emailSendMessage } from "../src/email/message";
import { renderEmail, siteFromConfig } from "../src/email/render";
import { EmailDataError, type SendEmailInput, sendEmail } from "../src/email/send-email";
import {
  type EmailTemplateData,
  type EmailTemplateInput,
  type EmailTemplateName,
  emailTemplateNames,
  emailTemplates,
} from "../src/email/templates";
import { formatDuration, formatMoney, formatUtc } from "../src/email/templates/fields";
import { escapeHtml, html } from "../src/email/templates/html";
import { getConfig } from "../src/env";

const site = siteFromConfig(getConfig(env));

/** Valid data for every template, and the link each email must carry. */
const samples: { [T in EmailTemplateName]: { data: EmailTemplateInput<T>; link: string; subject: RegExp } } =
  {
    verify_email: {
      data: {
        name: "Ada",
        verify_url: "https://app.example.com/verify-email?token=tok_verify&src=email",
        disown_url: "https://app.example.com/disown-account?token=tok_disown",
        expires_in_minutes: 1440,
      },
      link: "https://app.example.com/verify-email?token=tok_verify&src=email",
      subject: /^Confirm your email for Edge API Platform$/,
    },
    welcome: {
      data: { name: "Ada" },
      link: "http://localhost:8787",
      subject: /^Welcome to Edge API Platform$/,
    },
    password_reset: {
      data: { reset_url: "https://app.example.com/reset-password?token=tok_reset", expires_in_minutes: 60 },
      link: "https://app.example.com/reset-password?token=tok_reset",
      subject: /^Reset your Edge API Platform password$/,
    },
    magic_code: {
      data: {
        code: "04711815",
        magic_url: "https://app.example.com/magic-verify?token=tok_magic",
        expires_in_minutes: 15,
      },
      link: "https://app.example.com/magic-verify?token=tok_magic",
      subject: /^Your Edge API Platform sign-in code$/,
    },
    org_invitation: {
      data: {
        inviter_name: "Grace Hopper",
        organization_name: "Acme",
        role: "admin",
        accept_url: "https://app.example.com/invitations/accept?token=tok_invite",
        expires_at: "2026-12-01T09:30:00.000Z",
      },
      link: "https://app.example.com/invitations/accept?token=tok_invite",
      subject: /^Grace Hopper invited you to join Acme on Edge API Platform$/,
    },
    billing_alert: {
      data: {
        alert: "payment_failed",
        organization_name: "Acme",
        billing_url: "https://app.example.com/orgs/acme/billing",
        amount: "49.00",
        currency: "usd",
        next_attempt_at: "2026-12-03T00:00:00Z",
      },
      link: "https://app.example.com/orgs/acme/billing",
      subject: /^Payment failed for Acme$/,
    },
    new_device: {
      data: {
        name: "Ada",
        device: "Firefox on Windows",
        location: "Lisbon, Portugal",
        ip: "203.0.113.7",
        signed_in_at: "2026-11-20T22:05:00Z",
        revoke_url: "https://app.example.com/settings/sessions/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/revoke",
      },
      link: "https://app.example.com/settings/sessions/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/revoke",
      subject: /^New sign-in to your Edge API Platform account$/,
    },
    notification: {
      data: {
        name: "Ada",
        type: "task_failed",
        title: "Task failed",
        message: "Your process_data task failed after 3 attempts: upstream timed out.",
        action_url: "https://app.example.com/tasks/0193a1f0-2b3c-7d4e-9f5a-6b7c8d9e0f1a?tab=log&src=email",
      },
      link: "https://app.example.com/tasks/0193a1f0-2b3c-7d4e-9f5a-6b7c8d9e0f1a?tab=log&src=email",
      subject: /^Task failed$/,
    },
    account_exists: {
      data: {
        name: "Ada",
        sign_in_url: "https://app.example.com/sign-in",
        reset_url: "https://app.example.com/forgot-password",
      },
      link: "https://app.example.com/sign-in",
      subject: /^You already have an account on Edge API Platform$/,
    },
    email_change_confirm: {
      data: {
        name: "Ada",
        confirm_url: "https://app.example.com/confirm-email-change?token=tok_change",
        expires_in_minutes: 1440,
      },
      link: "https://app.example.com/confirm-email-change?token=tok_change",
      subject: /^Confirm your new email address for Edge API Platform$/,
    },
    email_change_notice: {
      data: {
        name: "Ada",
        new_email_hint: "a***@example.org",
        requested_at: "2026-11-20T22:05:00Z",
        security_url: "https://app.example.com/settings/security",
      },
      link: "https://app.example.com/settings/security",
      subject: /^Your Edge API Platform email address is about to change$/,
    },
    identity_linked: {
      data: {
        name: "Ada",
        provider: "Google",
        provider_email: "ada@example.com",
        linked_at: "2026-11-20T22:05:00Z",
        manage_url: "https://app.example.com/settings/security",
      },
      link: "https://app.example.com/settings/security",
      subject: /^Google can now sign in to your Edge API Platform account$/,
    },
    security_alert: {
      data: {
        name: "Ada",
        event: "refresh_token_reused",
        device: "Firefox on Windows",
        ip: "203.0.113.7",
        occurred_at: "2026-11-20T22:05:00Z",
        manage_url: "https://app.example.com/settings/security?src=email&tab=devices",
      },
      link: "https://app.example.com/settings/security?src=email&tab=devices",
      subject: /^Security alert: a device was signed out of your Edge API Platform account$/,
    },
    sign_in_method_changed: {
      data: {
        name: "Ada",
        event: "mfa_enabled",
        device: "Firefox on Windows",
        ip: "203.0.113.7",
        occurred_at: "2026-11-20T22:05:00Z",
        manage_url: "https://app.example.com/settings/security",
      },
      link: "https://app.example.com/settings/security",
      subject: /^Two-step sign-in is on for your Edge API Platform account$/,
    },
    passkey_changed: {
      data: {
        name: "Ada",
        event: "passkey_added",
        passkey_name: "MacBook Touch ID",
        device: "Safari on macOS",
        ip: "203.0.113.7",
        occurred_at: "2026-11-20T22:05:00Z",
        manage_url: "https://app.example.com/settings/security?src=email&tab=passkeys",
      },
      link: "https://app.example.com/settings/security?src=email&tab=passkeys",
      subject: /^A passkey was added to your Edge API Platform account$/,
    },
    webhook_endpoint_disabled: {
      data: {
        name: "Ada",
        organization_name: "Acme",
        endpoint_url: "https://hooks.acme.example/edge",
        failing_since: "2026-11-15T08:00:00.000Z",
        disabled_at: "2026-11-20T08:00:05.000Z",
        last_failure: "HTTP 503",
        manage_url: "https://app.example.com/orgs/0190c6d0-2b3c-7d4e-9f50-6a7b8c9d0e1f/webhooks",
      },
      link: "https://app.example.com/orgs/0190c6d0-2b3c-7d4e-9f50-6a7b8c9d0e1f/webhooks",
      subject: /^A webhook endpoint of Acme was disabled$/,
    },
  };

function render<T extends EmailTemplateName>(template: T, data: EmailTemplateInput<T>) {
  const parsed = emailTemplates[template].schema.parse(data) as EmailTemplateData<T>;
  return renderEmail(template, parsed, site);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("email templates: happy", () => {
  it("has a sample here for every registered template", () => {
    expect(Object.keys(samples).sort()).toEqual([...emailTemplateNames].sort());
    // The queue message offers exactly the registered templates too.
    expect(emailSendMessage.options.map((option) => option.shape.template.value).sort()).toEqual(
      [...emailTemplateNames].sort(),
    );
  });

  for (const name of emailTemplateNames) {
    it(`renders ${name} as HTML and text in the shared layout`, () => {
      const sample = samples[name];
      const email = render(name, sample.data as EmailTemplateInput<typeof name>);

      expect(email.subject).toMatch(sample.subject);

      // HTML: a whole document, the product name linking to APP_URL, the action link (with & escaped
      // as HTML requires), inline styles only, and the subject as title.
      expect(email.html).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(email.html).toContain(`<title>${escapeHtml(email.subject)}</title>`);
      expect(email.html).toContain('<a href="http://localhost:8787" target="_blank"');
      expect(email.html).toContain(">Edge API Platform</a>");
      expect(email.html).toContain(`href="${escapeHtml(sample.link)}"`);
      expect(email.html).not.toMatch(/<style|<script|<link/i);
      expect(email.html).toMatch(/<h1 style="[^"]+">/);

      // Text: the same message without markup, the raw link on its own line, and the footer.
      expect(email.text).not.toMatch(/<[a-z/][^>]*>/i);
      expect(email.text.split("\n")).toContain(sample.link);
      expect(email.text.startsWith("Edge API Platform\n\n")).toBe(true);
      expect(email.text).toContain("Edge API Platform · http://localhost:8787");
    });
  }

  it("puts the magic code in the body, never in the subject or preview text", () => {
    const email = render("magic_code", samples.magic_code.data);
    expect(email.text).toContain("    04711815");
    expect(email.html).toMatch(/<div style="[^"]*monospace[^"]*">04711815<\/div>/);
    expect(email.subject).not.toContain("04711815");
    expect(email.html.split("04711815")).toHaveLength(2); // once: the code block, not the hidden preheader
    expect(email.text).toContain("expire in 15 minutes");
  });

  it("formats expiry, times, roles and money for people", () => {
    expect(render("verify_email", samples.verify_email.data).text).toContain(
      "This link expires in 24 hours.",
    );
    expect(render("password_reset", samples.password_reset.data).text).toContain("expires in 1 hour.");
    const invitation = render("org_invitation", samples.org_invitation.data).text;
    expect(invitation).toContain("Grace Hopper invited you to join Acme on Edge API Platform as an admin.");
    expect(invitation).toContain("This invitation expires on 1 December 2026 at 09:30 UTC.");
    const payment = render("billing_alert", samples.billing_alert.data).text;
    expect(payment).toContain("We could not collect the payment of $49.00 for Acme.");
    expect(payment).toContain("We will try again on 3 December 2026 at 00:00 UTC");
    const device = render("new_device", samples.new_device.data).text;
    expect(device).toContain(
      "Device: Firefox on Windows\nLocation: Lisbon, Portugal\nIP address: 203.0.113.7\nTime: 20 November 2026 at 22:05 UTC",
    );
  });

  it("renders every billing alert kind", () => {
    const common = { organization_name: "Acme", billing_url: "https://app.example.com/billing" };
    const low = render("billing_alert", { alert: "credits_low", credits_remaining: 1, ...common });
    expect(low.subject).toBe("Acme is running low on credits");
    expect(low.text).toContain("Acme has 1 credit left.");
    const canceled = render("billing_alert", {
      alert: "subscription_canceled",
      ends_at: "2027-01-31T00:00:00Z",
      ...common,
    });
    expect(canceled.subject).toBe("The Edge API Platform subscription of Acme is canceled");
    expect(canceled.text).toContain("ends on 31 January 2027 at 00:00 UTC");
  });

  it("links the welcome button to APP_URL unless told otherwise", () => {
    const custom = render("welcome", { getting_started_url: "https://docs.example.com/start" });
    expect(custom.text).toContain("Get started:\nhttps://docs.example.com/start");
    expect(custom.text).toContain("Hi,\n");
  });

  it("renders identically every time (retries must send the same payload)", () => {
    for (const name of emailTemplateNames) {
      const data = samples[name].data as EmailTemplateInput<typeof name>;
      expect(render(name, data)).toEqual(render(name, data));
    }
  });

  it("formats durations, times and money", () => {
    expect([1, 15, 60, 120, 1440, 2880, 10080, 90].map(formatDuration)).toEqual([
      "1 minute",
      "15 minutes",
      "1 hour",
      "2 hours",
      "24 hours",
      "2 days",
      "7 days",
      "90 minutes",
    ]);
    expect(formatUtc("2026-01-07T14:05:00Z")).toBe("7 January 2026 at 14:05 UTC");
    expect(formatMoney("1234.5", "eur")).toBe("€1,234.50");
  });
});

describe("email templates: security", () => {
  const script = "<script>alert(1)</script>";
  const breakout = `"><img src=x onerror=alert(1)>`;

  it("escapes user data in every HTML context and keeps it verbatim in text", () => {
    const invitation = render("org_invitation", {
      ...samples.org_invitation.data,
      inviter_name: script,
      organization_name: breakout,
    });
    expect(invitation.html).not.toContain("<script>");
    expect(invitation.html).not.toContain("<img");
    expect(invitation.html).toContain("<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>");
    expect(invitation.html).toContain("<strong>&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</strong>");
    // The subject reaches <title> and the hidden preheader too: escaped there as well.
    expect(invitation.html).toContain(
      "<title>&lt;script&gt;alert(1)&lt;/script&gt; invited you to join &quot;&gt;",
    );
    // Plain text is not HTML: the reader sees exactly what the inviter typed.
    expect(invitation.text).toContain(`${script} invited you to join ${breakout} on Edge API Platform`);

    const device = render("new_device", { ...samples.new_device.data, name: script, device: breakout });
    expect(device.html).not.toContain("<script>");
    expect(device.html).toContain("Hi &lt;script&gt;alert(1)&lt;/script&gt;,");
    expect(device.html).toContain(">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</td>");
  });

  it("escapes the five HTML metacharacters and only them", () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe(
      "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;",
    );
    expect(html`<p title="${`" onmouseover="x`}">${["a", "<b>"]}</p>`.value).toBe(
      '<p title="&quot; onmouseover=&quot;x">a&lt;b&gt;</p>',
    );
  });

  it("refuses links that are not http(s), so no javascript: href is ever rendered", () => {
    for (const url of ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "/relative/path"]) {
      expect(
        emailTemplates.password_reset.schema.safeParse({ reset_url: url, expires_in_minutes: 60 }).success,
      ).toBe(false);
    }
  });

  it("refuses control characters in names, which would otherwise reach the subject line", () => {
    const result = emailTemplates.org_invitation.schema.safeParse({
      ...samples.org_invitation.data,
      inviter_name: "Eve\r\nBcc: victim@example.com",
    });
    expect(result.success).toBe(false);
  });
});

describe("sendEmail: refused at the producer", () => {
  const cases: { why: string; input: SendEmailInput; path: string }[] = [
    {
      why: "a missing field",
      input: {
        template: "verify_email",
        to: "ada@example.com",
        // @ts-expect-error: the missing expires_in_minutes is the point; the schema refuses it at run time too
        data: { verify_url: "https://app.example.com/v" },
      },
      path: "data.expires_in_minutes",
    },
    {
      why: "a wrong code format",
      input: {
        template: "magic_code",
        to: "ada@example.com",
        data: { code: "1234", magic_url: "https://app.example.com/m", expires_in_minutes: 15 },
      },
      path: "data.code",
    },
    {
      why: "a misspelt field (schemas are strict)",
      input: {
        template: "welcome",
        to: "ada@example.com",
        // @ts-expect-error: the typo is the point; the type already refuses it, the schema refuses it at run time
        data: { nmae: "Ada" },
      },
      path: "data",
    },
    {
      why: "a bad recipient",
      input: { template: "welcome", to: "not-an-address", data: {} },
      path: "to",
    },
    {
      why: "a javascript: link",
      input: {
        template: "password_reset",
        to: "ada@example.com",
        data: { reset_url: "javascript:alert(document.cookie)", expires_in_minutes: 60 },
      },
      path: "data.reset_url",
    },
    {
      why: "an unknown template",
      // @ts-expect-error: not a template name
      input: { template: "newsletter", to: "ada@example.com", data: {} },
      path: "template",
    },
  ];

  for (const { why, input, path } of cases) {
    it(`refuses ${why} and enqueues nothing`, async () => {
      const send = vi.spyOn(env.EMAIL_QUEUE, "send");
      const error = await sendEmail(env, input).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(EmailDataError);
      const issues = (error as EmailDataError).issues;
      expect(issues.map((issue) => issue.path)).toContain(path);
      // The message names fields, never values (they can be tokens).
      expect((error as EmailDataError).message).not.toContain("javascript:");
      expect(send).not.toHaveBeenCalled();
    });
  }
});
