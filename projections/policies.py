"""Window policies, re-exported: they are the domain's, since a model call's record names one."""

from chatledger.domain.policies import MessageWindow as MessageWindow
from chatledger.domain.policies import Policy as Policy
from chatledger.domain.policies import SummaryWindow as SummaryWindow
from chatledger.domain.policies import TokenWindow as TokenWindow
