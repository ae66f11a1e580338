/**
 * Stands in, in the Worker bundle (wrangler.toml `alias`), for the Stripe SDK's resources this
 * Worker never calls. `stripe.core.js` imports every resource of the API (about 70 classes and 20
 * namespaces, ~215 KiB minified) and instantiates them all in the Stripe constructor, so nothing
 * can be tree-shaken (stripe-node issues #1693 and #2156 ask for a modular SDK). Each alias points
 * one of those imports here instead.
 *
 * Bundled for real (not aliased): `customers`, `subscriptions`, `checkout` (sessions) and
 * `billingPortal` (sessions), what src/modules/billing calls, plus everything that is not a
 * resource (`Stripe.webhooks`, errors, the fetch client). `npm run build:check` fails when src/
 * calls a resource that is aliased here (`stripe.invoices…`), naming the wrangler.toml line to
 * remove; and should a call slip through, the instance below throws, naming the resource, instead
 * of the SDK reading `undefined`.
 *
 * On a Stripe upgrade: a resource the SDK adds is simply bundled (no alias), one it renames makes
 * the build fail on the missing export here; build:check checks that every alias is still imported
 * by stripe alone.
 */

/** A resource class `new X(stripe)` builds; its instance refuses every method, naming the resource. */
function notBundled(property: string) {
  return class StripeResourceNotBundled {
    constructor() {
      // biome-ignore lint/correctness/noConstructorReturn: the instance is the refusing proxy.
      return new Proxy(
        {},
        {
          get(_target, key) {
            // Symbols and `then` are what inspectors and `await` probe; they must not throw.
            if (typeof key === "symbol" || key === "then") return undefined;
            throw new Error(
              `stripe.${property}.${key} is not bundled (wrangler.toml alias, ` +
                "src/bundle-aliases/stripe-resources.ts): remove its alias line to call it.",
            );
          },
        },
      );
    }
  };
}

export const AccountResource = notBundled("accounts");
export const AccountLinkResource = notBundled("accountLinks");
export const AccountSessionResource = notBundled("accountSessions");
export const ApplePayDomainResource = notBundled("applePayDomains");
export const ApplicationFeeResource = notBundled("applicationFees");
export const BalanceResource = notBundled("balance");
export const BalanceSettingResource = notBundled("balanceSettings");
export const BalanceTransactionResource = notBundled("balanceTransactions");
export const ChargeResource = notBundled("charges");
export const ConfirmationTokenResource = notBundled("confirmationTokens");
export const CountrySpecResource = notBundled("countrySpecs");
export const CouponResource = notBundled("coupons");
export const CreditNoteResource = notBundled("creditNotes");
export const CustomerSessionResource = notBundled("customerSessions");
export const DisputeResource = notBundled("disputes");
export const EphemeralKeyResource = notBundled("ephemeralKeys");
export const ExchangeRateResource = notBundled("exchangeRates");
export const FileResource = notBundled("files");
export const FileLinkResource = notBundled("fileLinks");
export const InvoiceResource = notBundled("invoices");
export const InvoiceItemResource = notBundled("invoiceItems");
export const InvoicePaymentResource = notBundled("invoicePayments");
export const InvoiceRenderingTemplateResource = notBundled("invoiceRenderingTemplates");
export const MandateResource = notBundled("mandates");
export const PaymentAttemptRecordResource = notBundled("paymentAttemptRecords");
export const PaymentIntentResource = notBundled("paymentIntents");
export const PaymentLinkResource = notBundled("paymentLinks");
export const PaymentMethodResource = notBundled("paymentMethods");
export const PaymentMethodConfigurationResource = notBundled("paymentMethodConfigurations");
export const PaymentMethodDomainResource = notBundled("paymentMethodDomains");
export const PaymentRecordResource = notBundled("paymentRecords");
export const PayoutResource = notBundled("payouts");
export const PlanResource = notBundled("plans");
export const PriceResource = notBundled("prices");
export const ProductResource = notBundled("products");
export const PromotionCodeResource = notBundled("promotionCodes");
export const QuoteResource = notBundled("quotes");
export const RefundResource = notBundled("refunds");
export const ReviewResource = notBundled("reviews");
export const SetupAttemptResource = notBundled("setupAttempts");
export const SetupIntentResource = notBundled("setupIntents");
export const ShippingRateResource = notBundled("shippingRates");
export const SourceResource = notBundled("sources");
export const SubscriptionItemResource = notBundled("subscriptionItems");
export const SubscriptionScheduleResource = notBundled("subscriptionSchedules");
export const TaxCodeResource = notBundled("taxCodes");
export const TaxIdResource = notBundled("taxIds");
export const TaxRateResource = notBundled("taxRates");
export const TokenResource = notBundled("tokens");
export const TopupResource = notBundled("topups");
export const TransferResource = notBundled("transfers");
export const WebhookEndpointResource = notBundled("webhookEndpoints");
export const Apps = notBundled("apps");
export const Billing = notBundled("billing");
export const Climate = notBundled("climate");
export const Entitlements = notBundled("entitlements");
export const FinancialConnections = notBundled("financialConnections");
export const Forwarding = notBundled("forwarding");
export const Identity = notBundled("identity");
export const Issuing = notBundled("issuing");
export const ProductCatalog = notBundled("productCatalog");
export const Radar = notBundled("radar");
export const Reporting = notBundled("reporting");
export const Sigma = notBundled("sigma");
export const Tax = notBundled("tax");
export const Terminal = notBundled("terminal");
export const TestHelpers = notBundled("testHelpers");
export const ThreeDSecure = notBundled("threeDSecure");
export const Treasury = notBundled("treasury");
export const V2 = notBundled("v2");
export const Reserve = notBundled("None");
export const EventResource = notBundled("events");

/** From `./resources.js`, which stripe.core.js imports for `stripe.oauth` and `Stripe.resources`. */
export const OAuthResource = notBundled("oauth");

/**
 * From `./StripeEventNotificationHandler.js` (~13 KiB minified, mostly the names of every v2 event):
 * the handler `stripe.notificationHandler()` builds for Stripe's v2 "thin" event notifications. Our
 * webhook receives v1 events through `Stripe.webhooks` (src/modules/billing/webhooks.service.ts).
 */
export class StripeEventNotificationHandler {
  constructor() {
    throw new Error(
      "Stripe's v2 event notification handler is not bundled (wrangler.toml alias, " +
        "src/bundle-aliases/stripe-resources.ts): remove its alias line to use it.",
    );
  }

  static withoutVerification(): never {
    return new StripeEventNotificationHandler() as never;
  }
}
