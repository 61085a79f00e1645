"""The seed's payment endpoints: thin views over payments.services."""

from payments.api.common import MajorAmountField, PaymentsThrottle
from payments.api.intents import (
    PaymentConfirmApi,
    PaymentCreateIntentApi,
    PaymentStatusApi,
)
from payments.api.methods import (
    PaymentMethodCreateApi,
    PaymentMethodDefaultApi,
    PaymentMethodItemApi,
    SetupIntentCreateApi,
)
from payments.api.refunds import PaymentRefundApi

__all__ = [
    "MajorAmountField",
    "PaymentConfirmApi",
    "PaymentCreateIntentApi",
    "PaymentMethodCreateApi",
    "PaymentMethodDefaultApi",
    "PaymentMethodItemApi",
    "PaymentRefundApi",
    "PaymentStatusApi",
    "PaymentsThrottle",
    "SetupIntentCreateApi",
]
