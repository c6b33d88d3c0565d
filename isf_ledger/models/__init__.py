"""Tables of the restricted-fund ledger, one module per noun; the rules that use them live in the
modules named for them (accounts/plans.py, accounts/receipts.py, ...)."""
from .people import Council, CouncilRuleChange, Person, PersonNameChange, Fund
from .ledger import Account, Transaction, TransactionId, Posting, AccountMonth, AccountKindMonth
from .plans import PlanVersion, BudgetLine
from .rates import Rate
from .receipts import Receipt
from .hours import PlanService, Delivery, DeliveryImport, DeliveryReversal, RateAdjustmentLine
from .contingency import ContingencyMovement
from .figures import FundFigureRow
from .spend import ReceiptFile, ReceiptFileContent, Spend
from .closing import Clawback, FundClosing
from .queries import FundQuery, QueryAnswer
from .bank_statements import (BankClearedItem, BankClearing, BankInterest, BankInterestShare, BankLine, BankMatch,
                              BankReconciliation, BankStatement)

__all__ = [
    "FundFigureRow",
    "BankClearedItem",
    "BankClearing",
    "BankInterest",
    "BankInterestShare",
    "BankLine",
    "BankMatch",
    "BankReconciliation",
    "BankStatement",
    "Council",
    "CouncilRuleChange",
    "Person",
    "PersonNameChange",
    "Fund",
    "Account",
    "Transaction",
    "TransactionId",
    "Posting",
    "AccountMonth",
    "AccountKindMonth",
    "PlanVersion",
    "BudgetLine",
    "Rate",
    "Receipt",
    "PlanService",
    "Delivery",
    "DeliveryImport",
    "DeliveryReversal",
    "RateAdjustmentLine",
    "ContingencyMovement",
    "ReceiptFile",
    "ReceiptFileContent",
    "Spend",
    "Clawback",
    "FundClosing",
    "FundQuery",
    "QueryAnswer",
]
