"""affiliate-bridge send stripe|paddle: sign and send realistic test webhooks.

Each provider has its own sub-command, so its --help lists the event types it can build
and what each needs. A sale prints the ids a refund needs, and remembers them: a
reversal sent without ids applies to the last payment sent to the same bridge, so a
walkthrough can be pasted in order without copying ids around.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from affiliate_bridge_dev import paddle_samples, stripe_samples
from affiliate_bridge_dev.local_config import load_config
from affiliate_bridge_dev.senders import paddle_signature_header, stripe_signature_header
from affiliate_bridge_dev.targets import Target, TargetError

LAST_PAYMENT_FILE = "cli-last-payment.json"
PAYMENT_PREFIXES = ("pi", "in", "txn")  # ids a reversal can take from the last payment sent

STRIPE_TYPES = {
    "checkout.session.completed": "a Checkout payment (the default); --mode subscription for a first"
    " subscription payment",
    "invoice.paid": "an invoice payment; on API 2025-03-31+ (the default) followed by its invoice_payment.paid,"
    " as Stripe sends it, so a later refund finds the invoice",
    "invoice_payment.paid": "links --payment-intent to --invoice (API 2025-03-31+)",
    "charge.refunded": "a refund of the last payment sent (or --payment-intent/--invoice); --refunded is"
    " the cumulative amount refunded (default: all of it)",
    "charge.dispute.closed": "a dispute's outcome on the last payment sent (or --payment-intent);"
    " --dispute-status lost (default) or won",
}
PADDLE_TYPES = {
    "transaction.completed": "a sale (the default)",
    "transaction.paid": "a sale under the same key as transaction.completed",
    "adjustment.created": "a refund (--action) of the last transaction sent (or --transaction);"
    " --refunded is this adjustment's amount (default: all of it)",
    "adjustment.updated": "the same adjustment, e.g. --status approved after pending_approval",
    "customer.created": "tells the bridge a customer's email: needs --customer and --email",
    "customer.updated": "the same, for an email change",
}


def provider_id(prefix: str) -> Callable[[str], str]:
    """An argparse type for a provider id: refuses placeholders such as ``pi_...``."""
    pattern = re.compile(rf"{prefix}_[A-Za-z0-9]{{1,250}}")

    def parse(value: str) -> str:
        if not pattern.fullmatch(value):
            hint = ", or leave the option out to use the last payment sent" if prefix in PAYMENT_PREFIXES else ""
            raise argparse.ArgumentTypeError(
                f"{value!r} is not a {prefix}_ id (letters and digits after {prefix}_): use a real id{hint}"
            )
        return value

    parse.__name__ = f"{prefix}_ id"
    return parse


def minor_units(value: str) -> int:
    try:
        amount = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of minor units (4900 = 49.00)") from None
    if amount < 0:
        raise argparse.ArgumentTypeError("amounts are never negative")
    return amount


# -- what was sent last --------------------------------------------------------------------
@dataclass(frozen=True)
class LastPayments:
    """The ids of the last sale sent per provider and bridge, in the CLI's state directory."""

    path: Path

    def read(self, target: str, provider: str) -> dict[str, Any]:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            found = saved.get(target, {}).get(provider, {})
        except (OSError, ValueError, AttributeError):
            return {}
        return found if isinstance(found, dict) else {}

    def write(self, target: str, provider: str, payment: Mapping[str, Any]) -> None:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            saved = {}
        if not isinstance(saved, dict):
            saved = {}
        if not isinstance(saved.get(target), dict):
            saved[target] = {}
        saved[target][provider] = dict(payment)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(saved, indent=2), encoding="utf-8")


def _note(text: str) -> None:
    print(text, file=sys.stderr)


# -- building events -------------------------------------------------------------------------
def _metadata(args: argparse.Namespace, fields: Mapping[str, str]) -> dict[str, str]:
    metadata = {}
    if args.customer_key:
        metadata[fields.get("CUSTOMER_KEY_FIELD") or "customer_key"] = args.customer_key
    if args.partner_key:
        metadata[fields.get("PARTNER_KEY_FIELD") or "partner_key"] = args.partner_key
    return metadata


def _stripe_sale(args: argparse.Namespace, fields: Mapping[str, str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The events of one sale and the ids a reversal needs."""
    version = stripe_samples.LEGACY if args.api_version == "legacy" else stripe_samples.BASIL
    currency = args.currency or args.default_currency
    common = {"currency": currency, "tax": args.tax, "customer": args.customer, "email": args.email}
    if args.type == "checkout.session.completed":
        session = stripe_samples.checkout_session(
            amount_total=args.amount,
            mode=args.mode,
            payment_intent=args.payment_intent,
            invoice=args.invoice,
            metadata=_metadata(args, fields),
            **common,
        )
        events = [stripe_samples.event(args.type, session, version)]
        invoice, intent = session.get("invoice"), session.get("payment_intent")
    else:
        intent = args.payment_intent or stripe_samples.new_id("pi")
        invoice_object = stripe_samples.invoice(
            amount_paid=args.amount,
            invoice_id=args.invoice,
            payment_intent=intent,
            api_version=version,
            metadata=_metadata(args, fields),
            **common,
        )
        invoice = invoice_object["id"]
        events = [stripe_samples.event(args.type, invoice_object, version)]
    if invoice and version == stripe_samples.BASIL:
        # Since 2025-03-31 neither the invoice nor the session names the payment intent;
        # Stripe sends invoice_payment.paid with the link, and so does this.
        intent = intent or stripe_samples.new_id("pi")
        link = stripe_samples.invoice_payment(
            invoice_id=invoice, payment_intent=intent, amount_paid=args.amount, currency=currency
        )
        events.append(stripe_samples.event("invoice_payment.paid", link, version))
    key = f"stripe-{invoice or intent}"
    payment = {"transaction_key": key, "invoice": invoice, "payment_intent": intent, "amount": args.amount}
    return events, payment | {"currency": currency, "customer": args.customer}


def _stripe_reversal(args: argparse.Namespace, last: Mapping[str, Any]) -> dict[str, Any]:
    version = stripe_samples.LEGACY if args.api_version == "legacy" else stripe_samples.BASIL
    intent, invoice = _reversal_refs(args, last)
    if args.payment_intent or args.invoice:
        last = {}  # another payment: nothing of the last one applies
    amount = args.amount if args.amount is not None else int(last.get("amount") or 4900)
    currency = args.currency or str(last.get("currency") or args.default_currency)
    if args.type == "charge.refunded":
        charge = stripe_samples.charge(
            amount=amount,
            amount_refunded=args.refunded if args.refunded is not None else amount,
            currency=currency,
            payment_intent=intent,
            invoice_id=invoice,
            customer=args.customer or last.get("customer"),
            api_version=version,
        )
        return stripe_samples.event(args.type, charge, version)
    dispute = stripe_samples.dispute(
        amount=args.refunded if args.refunded is not None else amount,
        status=args.dispute_status,
        charge_id=stripe_samples.new_id("ch"),
        payment_intent=intent,
        currency=currency,
    )
    return stripe_samples.event(args.type, dispute, version)


def _reversal_refs(args: argparse.Namespace, last: Mapping[str, Any]) -> tuple[str, str | None]:
    if args.payment_intent or args.invoice:
        return args.payment_intent or stripe_samples.new_id("pi"), args.invoice
    if not last.get("payment_intent"):
        raise TargetError(
            f"{args.type} needs a payment: send a sale first, or pass --payment-intent pi_... (a real id)"
        )
    _note(f"applies to the last payment sent: {last['transaction_key']} (payment intent {last['payment_intent']})")
    return str(last["payment_intent"]), last.get("invoice")


def _stripe_link(args: argparse.Namespace) -> dict[str, Any]:
    if not (args.invoice and args.payment_intent):
        raise TargetError("invoice_payment.paid needs --invoice in_... and --payment-intent pi_...")
    link = stripe_samples.invoice_payment(
        invoice_id=args.invoice, payment_intent=args.payment_intent, amount_paid=args.amount or 4900
    )
    return stripe_samples.event(args.type, link)


def build_stripe(
    args: argparse.Namespace, fields: Mapping[str, str], last: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if args.type in ("checkout.session.completed", "invoice.paid"):
        args.amount = 4900 if args.amount is None else args.amount
        return _stripe_sale(args, fields)
    if args.type == "invoice_payment.paid":
        return [_stripe_link(args)], None
    return [_stripe_reversal(args, last)], None


def build_paddle(
    args: argparse.Namespace, fields: Mapping[str, str], last: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    if args.type in ("transaction.completed", "transaction.paid"):
        amount = 4900 if args.amount is None else args.amount
        currency = (args.currency or args.default_currency).upper()
        data = paddle_samples.transaction(
            total=amount,
            tax=args.tax,
            currency=currency,
            customer_id=args.customer,
            custom_data=_metadata(args, fields) or None,
            transaction_id=args.transaction,
            status="completed" if args.type == "transaction.completed" else "paid",
        )
        payment = {"transaction_key": f"paddle-{data['id']}", "transaction": data["id"], "amount": amount}
        return [paddle_samples.notification(args.type, data)], payment | {"currency": currency}
    if args.type.startswith("adjustment."):
        return [paddle_samples.notification(args.type, _adjustment(args, last))], None
    if not (args.customer and args.email):
        raise TargetError(f"{args.type} needs --customer ctm_... and --email")
    data = paddle_samples.customer(customer_id=args.customer, email=args.email)
    return [paddle_samples.notification(args.type, data)], None


def _adjustment(args: argparse.Namespace, last: Mapping[str, Any]) -> dict[str, Any]:
    if args.transaction:
        last = {}  # another transaction: nothing of the last one applies
    transaction = args.transaction or last.get("transaction")
    if not transaction:
        raise TargetError(f"{args.type} needs a transaction: send a sale first, or pass --transaction txn_...")
    if not args.transaction:
        _note(f"applies to the last transaction sent: {transaction}")
    amount = args.amount if args.amount is not None else int(last.get("amount") or 4900)
    currency = args.currency or str(last.get("currency") or args.default_currency)
    return paddle_samples.adjustment(
        transaction_id=transaction,
        total=args.refunded if args.refunded is not None else amount,
        action=args.action,
        status=args.status,
        currency=currency.upper(),
        customer_id=args.customer,
    )


# -- sending ---------------------------------------------------------------------------------
def _signing_secret(provider: str, args: argparse.Namespace, target: Target | None) -> str:
    """--secret, else what the running local stack verifies with, else the environment."""
    name = f"{provider.upper()}_WEBHOOK_SECRET"
    value = args.secret or (target.config.get(name) if target else None)
    if not value and (target is None or target.is_local):
        value = load_config()[name]
    if not value:
        raise TargetError(f"no signing secret for {target.name if target else args.url}: pass --secret")
    return value.split(",")[0].strip()


def _post(url: str, provider: str, event: dict[str, Any], secret: str, raw: bytes | None = None) -> bool:
    import requests

    body = raw if raw is not None else json.dumps(event, indent=2).encode()
    sign = paddle_signature_header if provider == "paddle" else stripe_signature_header
    header = "Paddle-Signature" if provider == "paddle" else "Stripe-Signature"
    kind = event.get("event_type") if provider == "paddle" else event.get("type")
    event_id = event.get("event_id") if provider == "paddle" else event.get("id")
    _note(f"-> POST {url}  {kind or '?'}  {event_id or '?'}")
    try:
        response = requests.post(
            url, data=body, headers={"Content-Type": "application/json", header: sign(body, secret)}, timeout=30
        )
    except requests.ConnectionError:
        raise TargetError(f"cannot reach the bridge at {url}: is `make run` running?") from None
    print(f"<- {response.status_code} {response.text}")
    return response.ok


def _from_file(path: str) -> tuple[bytes, dict[str, Any]]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise TargetError(f"cannot read --file {path}: {exc.strerror or exc}") from None
    try:
        event = json.loads(raw)
    except ValueError:
        event = {}  # sent anyway: the bridge's answer to a malformed body is worth seeing
    return raw, event if isinstance(event, dict) else {}


def _optional_target(args: argparse.Namespace, resolve_target: Callable[[], Target]) -> Target | None:
    """The bridge to send to; none with --url. --print uses one if it runs (for its
    metadata field names and last payment) and does without otherwise."""
    if args.url:
        return None
    try:
        return resolve_target()
    except TargetError:
        if args.print:
            return None
        raise


def cmd_send(args: argparse.Namespace, resolve_target: Callable[[], Target], state_dir: Path) -> int:
    provider = args.provider
    target = _optional_target(args, resolve_target)
    memory, remembered_as = LastPayments(state_dir / LAST_PAYMENT_FILE), target.name if target else str(args.url)
    raw: bytes | None = None
    if args.file:
        raw, event = _from_file(args.file)
        events, payment = [event], None
    else:
        build = build_paddle if provider == "paddle" else build_stripe
        events, payment = build(args, target.config if target else {}, memory.read(remembered_as, provider))
    if args.print:
        # One event, so the output can be saved and sent with --file as it is.
        print(json.dumps(events[0], indent=2))
        for extra in events[1:]:
            _note(f"(Stripe follows it with {extra['type']}; --print shows only the first event)")
        return 0
    url = args.url or (target and (target.paddle_url if provider == "paddle" else target.stripe_url))
    if not url:
        raise TargetError(f"{remembered_as} has no {provider} webhook URL: pass --url")
    secret = _signing_secret(provider, args, target)
    for event in events:  # a sale and its link: the link is pointless if the sale was refused
        if not _post(url, provider, event, secret, raw):
            return 1
    if payment:
        memory.write(remembered_as, provider, payment)
        named = ("invoice", "payment_intent", "transaction")
        ids = ", ".join(f"{name.replace('_', ' ')} {payment[name]}" for name in named if payment.get(name))
        _note(f"payment {payment['transaction_key']} ({ids}); a reversal sent without ids applies to it")
    return 0


# -- the parsers -------------------------------------------------------------------------
def _types_epilog(types: Mapping[str, str], columns: int = 100) -> str:
    """The --type table, wrapped to fit a 100-column terminal."""
    width = max(map(len, types))
    indent = " " * (width + 4)
    rows = [
        textwrap.fill(text, columns, initial_indent=f"  {name:<{width}}  ", subsequent_indent=indent)
        for name, text in types.items()
    ]
    return "event types (--type):\n" + "\n".join(rows)


def _common(parser: argparse.ArgumentParser, currency: str) -> None:
    parser.add_argument("--file", help="send this event JSON as is, signed on its exact bytes")
    parser.add_argument("--print", action="store_true", help="print the event JSON instead of sending it")
    parser.add_argument("--amount", type=minor_units, help="amount in minor units, 4900 = 49.00 (default: 4900)")
    parser.add_argument("--currency", help=f"ISO currency code (default: {currency}; a reversal: its sale's)")
    parser.add_argument("--tax", type=minor_units, default=0, help="tax included in --amount, in minor units")
    parser.add_argument("--customer-key", help="your customer key, put in the payment's metadata")
    parser.add_argument("--partner-key", help="a partner key carried by the payment (checkout-only shops)")
    parser.add_argument("--refunded", type=minor_units, help="the amount refunded or disputed, in minor units")
    parser.add_argument("--url", help="webhook URL (default: the target bridge's)")
    parser.add_argument("--secret", help="signing secret (default: the one the running local stack verifies with)")


def add_send_parsers(commands: Any, resolve_target: Callable[[argparse.Namespace], Target]) -> None:
    send = commands.add_parser("send", help="sign and send a test webhook event (stripe or paddle)")
    providers = send.add_subparsers(dest="provider", required=True, metavar="{stripe,paddle}")
    formatter = argparse.RawDescriptionHelpFormatter

    stripe = providers.add_parser(
        "stripe", help="a Stripe event", epilog=_types_epilog(STRIPE_TYPES), formatter_class=formatter
    )
    stripe.add_argument("--type", choices=list(STRIPE_TYPES), default="checkout.session.completed", metavar="TYPE")
    _common(stripe, "usd")
    stripe.add_argument("--customer", type=provider_id("cus"), help="Stripe customer id, cus_...")
    stripe.add_argument("--email", help="the customer's email (default: buyer@example.com)")
    stripe.add_argument("--invoice", type=provider_id("in"), help="invoice id, in_... (default: a new one)")
    stripe.add_argument("--payment-intent", type=provider_id("pi"), help="payment intent id, pi_...")
    stripe.add_argument("--mode", default="payment", choices=["payment", "subscription"], help="Checkout mode")
    stripe.add_argument("--dispute-status", default="lost", choices=["lost", "won", "needs_response"])
    stripe.add_argument(
        "--api-version", default="basil", choices=["basil", "legacy"], help="payload shape: 2025-03-31+ or older"
    )

    paddle = providers.add_parser(
        "paddle", help="a Paddle Billing notification", epilog=_types_epilog(PADDLE_TYPES), formatter_class=formatter
    )
    paddle.add_argument("--type", choices=list(PADDLE_TYPES), default="transaction.completed", metavar="TYPE")
    _common(paddle, "USD")
    paddle.add_argument("--customer", type=provider_id("ctm"), help="Paddle customer id, ctm_...")
    paddle.add_argument("--email", help="the customer's email (customer.* types)")
    paddle.add_argument("--transaction", type=provider_id("txn"), help="transaction id, txn_...")
    paddle.add_argument("--action", default="refund", choices=["refund", "chargeback", "chargeback_reverse", "credit"])
    paddle.add_argument("--status", default="approved", choices=["approved", "pending_approval", "rejected"])

    for parser in (stripe, paddle):
        parser.set_defaults(func=lambda args: cmd_send(args, lambda: resolve_target(args), Path(args.state_dir)))
    stripe.set_defaults(default_currency="usd")
    paddle.set_defaults(default_currency="USD")
