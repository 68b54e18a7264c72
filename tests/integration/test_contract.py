"""TicketMarket on a real EVM (py-evm): roles, ERC-721 surface, sales and fees, pull payments, the
reentrancy guard and checks-effects-interactions, and the events the ETL decodes."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD

from shared.chain.artifacts import load_artifact
from shared.chain.evm import (
    PRIMARY_FEE_BPS,
    RESALE_FEE_BPS,
    ChainTransactionFailed,
    TicketMarketClient,
    deploy_artifact,
)
from shared.chain.units import usd_to_wei

EVENT_ID = 42
FACE = usd_to_wei(50)
AGREED_EVENTS = {
    "EventCreated": "EventCreated(uint256,uint32,uint256,address)",
    "TicketMinted": "TicketMinted(uint256,uint256,address)",
    "Transfer": "Transfer(address,address,uint256)",
    "PrimarySale": "PrimarySale(uint256,uint256,address,uint256)",
    "Listed": "Listed(uint256,address,uint256)",
    "Delisted": "Delisted(uint256,address)",
    "Resale": "Resale(uint256,address,address,uint256)",
}
AGREED_INDEXED = {
    "EventCreated": ["eventId"],
    "TicketMinted": ["tokenId", "eventId", "to"],
    "Transfer": ["from", "to", "tokenId"],
    "PrimarySale": ["tokenId", "eventId", "buyer"],
    "Listed": ["tokenId", "seller"],
    "Delisted": ["tokenId", "seller"],
    "Resale": ["tokenId", "seller", "buyer"],
}


def _accounts(evm: TicketMarketClient) -> list[str]:
    return list(evm.w3.eth.accounts)


def _event_with_tickets(evm: TicketMarketClient, count: int = 5, first: int = 1000) -> None:
    evm.create_event(EVENT_ID, 100, FACE)
    evm.mint_batch(EVENT_ID, first, count)


def _logs(evm: TicketMarketClient, tx_hash: str, name: str) -> list[Any]:
    receipt = evm.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
    return list(getattr(evm.contract.events, name)().process_receipt(receipt, errors=DISCARD))


def _balance(evm: TicketMarketClient, who: str) -> int:
    return int(evm.w3.eth.get_balance(to_checksum_address(who)))


# ---------------------------------------------------------------------------------------- ABI


def test_events_in_the_abi_are_exactly_the_agreed_signatures(contract_artifacts: Any) -> None:
    # Given the compiled ABI
    abi = load_artifact("TicketMarket").abi
    events = {item["name"]: item for item in abi if item["type"] == "event"}
    for name, signature in AGREED_EVENTS.items():
        # Then each agreed event exists with that signature and those indexed arguments
        item = events[name]
        types = ",".join(i["type"] for i in item["inputs"])
        assert f"{name}({types})" == signature
        assert [i["name"] for i in item["inputs"] if i["indexed"]] == AGREED_INDEXED[name]


def test_logs_carry_the_topic_of_the_agreed_signature(evm: TicketMarketClient) -> None:
    # Given an event with a ticket bought
    _event_with_tickets(evm, count=1)
    buyer = _accounts(evm)[5]
    tx = evm.buy_primary_for(1000, buyer, FACE)
    # Then topic0 of each log is keccak(signature) of the agreed events
    receipt = evm.w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
    topics = [bytes(log["topics"][0]) for log in receipt["logs"]]
    assert topics == [keccak(text=AGREED_EVENTS["Transfer"]), keccak(text=AGREED_EVENTS["PrimarySale"])]


# ---------------------------------------------------------------------------------------- roles


def test_only_an_organizer_creates_events(evm: TicketMarketClient) -> None:
    stranger = _accounts(evm)[6]
    with pytest.raises(ChainTransactionFailed) as refused:
        evm.transact("createEvent", 1, 10, FACE, sender=stranger)
    assert refused.value.error_name == "NotOrganizer"


def test_only_the_events_organizer_mints(evm: TicketMarketClient) -> None:
    # Given an event created by the organizer and a second organizer appointed by the owner
    evm.create_event(EVENT_ID, 10, FACE)
    other_organizer, stranger = _accounts(evm)[6], _accounts(evm)[7]
    evm.transact("setOrganizer", other_organizer, True, sender=evm.roles.owner)
    for sender in (stranger, other_organizer, evm.roles.operator, evm.roles.owner):
        # When anyone but the event's organizer mints, Then it is refused
        with pytest.raises(ChainTransactionFailed) as refused:
            evm.transact("mintBatch", EVENT_ID, 1, 1, sender, sender=sender)
        assert refused.value.error_name == "NotEventOrganizer"
    assert evm.contract.functions.balanceOf(to_checksum_address(stranger)).call() == 0


def test_only_the_owner_appoints_roles_and_only_operators_relay(evm: TicketMarketClient) -> None:
    _event_with_tickets(evm, count=1)
    stranger = _accounts(evm)[6]
    with pytest.raises(ChainTransactionFailed) as not_owner:
        evm.transact("setOperator", stranger, True, sender=stranger)
    assert not_owner.value.error_name == "NotOwner"
    with pytest.raises(ChainTransactionFailed) as not_operator:
        evm.transact("buyPrimaryFor", 1000, stranger, sender=stranger, value=FACE)
    assert not_operator.value.error_name == "NotOperator"


def test_minting_beyond_capacity_is_refused(evm: TicketMarketClient) -> None:
    evm.create_event(EVENT_ID, 3, FACE)
    with pytest.raises(ChainTransactionFailed) as refused:
        evm.mint_batch(EVENT_ID, 1, 4)
    assert refused.value.error_name == "CapacityExceeded"


# ---------------------------------------------------------------------------------------- ERC-721


def test_mint_emits_transfer_from_zero_and_ticket_minted(evm: TicketMarketClient) -> None:
    evm.create_event(EVENT_ID, 10, FACE)
    (tx,) = evm.mint_batch(EVENT_ID, 7, 2)
    transfers = _logs(evm, tx, "Transfer")
    minted = _logs(evm, tx, "TicketMinted")
    assert [(t.args["from"], t.args["tokenId"]) for t in transfers] == [
        ("0x" + "00" * 20, 7),
        ("0x" + "00" * 20, 8),
    ]
    assert [(m.args["tokenId"], m.args["eventId"]) for m in minted] == [(7, EVENT_ID), (8, EVENT_ID)]
    assert evm.owner_of(7) == evm.roles.organizer.lower()
    assert evm.balance_of(evm.roles.organizer) == 2


def test_approvals_and_transfer_from(evm: TicketMarketClient) -> None:
    # Given a holder with a ticket
    _event_with_tickets(evm, count=1)
    holder, spender, receiver, stranger = _accounts(evm)[5:9]
    evm.buy_primary_for(1000, holder, FACE)
    # When a stranger tries to move it, Then it is refused
    with pytest.raises(ChainTransactionFailed) as refused:
        evm.transact("transferFrom", holder, receiver, 1000, sender=stranger)
    assert refused.value.error_name == "NotAuthorized"
    # When the holder approves a spender, Then the spender may move it once
    evm.transact("approve", spender, 1000, sender=holder)
    assert evm.contract.functions.getApproved(1000).call() == spender
    evm.transact("transferFrom", holder, receiver, 1000, sender=spender)
    assert evm.owner_of(1000) == receiver.lower()
    assert evm.contract.functions.getApproved(1000).call() == "0x" + "00" * 20
    # And an operator approved for all may move it on
    evm.transact("setApprovalForAll", spender, True, sender=receiver)
    evm.transact("transferFrom", receiver, holder, 1000, sender=spender)
    assert evm.owner_of(1000) == holder.lower()
    assert evm.balance_of(receiver) == 0


def test_a_transfer_cancels_the_listing(evm: TicketMarketClient) -> None:
    _event_with_tickets(evm, count=1)
    holder, friend = _accounts(evm)[5:7]
    evm.buy_primary_for(1000, holder, FACE)
    evm.transact("list", 1000, usd_to_wei(70), sender=holder)
    tx = evm.transact("transferFrom", holder, friend, 1000, sender=holder)
    assert [log.args["seller"] for log in _logs(evm, tx, "Delisted")] == [holder]
    assert evm.listing_price(1000) == 0


# ---------------------------------------------------------------------------------------- money


def test_primary_sale_credits_organizer_and_fee(evm: TicketMarketClient) -> None:
    _event_with_tickets(evm, count=2)
    buyer = _accounts(evm)[5]
    # When a buyer pays the face value itself
    tx = evm.transact("buyPrimary", 1000, sender=buyer, value=FACE)
    # Then the ticket is theirs, the sale is logged, and proceeds wait to be withdrawn
    assert evm.owner_of(1000) == buyer.lower()
    (sale,) = _logs(evm, tx, "PrimarySale")
    assert (sale.args["tokenId"], sale.args["eventId"], sale.args["buyer"], sale.args["priceWei"]) == (
        1000,
        EVENT_ID,
        buyer,
        FACE,
    )
    fee = FACE * PRIMARY_FEE_BPS // 10_000
    assert evm.pending_withdrawal(evm.roles.organizer) == FACE - fee
    assert evm.pending_withdrawal(evm.roles.fee_recipient) == fee
    # And a second primary sale of the same ticket, or a wrong price, is refused
    with pytest.raises(ChainTransactionFailed) as again:
        evm.buy_primary_for(1000, _accounts(evm)[6], FACE)
    assert again.value.error_name == "AlreadySold"
    with pytest.raises(ChainTransactionFailed) as wrong:
        evm.buy_primary_for(1001, _accounts(evm)[6], FACE - 1)
    assert wrong.value.error_name == "WrongPayment"


def test_resale_pays_seller_and_fee_and_withdraw_moves_the_money(evm: TicketMarketClient) -> None:
    # Given a ticket bought in primary and listed by its holder at 80 USD
    _event_with_tickets(evm, count=1)
    seller, buyer = _accounts(evm)[5:7]
    evm.buy_primary_for(1000, seller, FACE)
    price = usd_to_wei(80)
    listed = evm.transact("list", 1000, price, sender=seller)
    assert [log.args["priceWei"] for log in _logs(evm, listed, "Listed")] == [price]
    # When a buyer pays the listing price
    tx = evm.transact("buyResale", 1000, sender=buyer, value=price)
    # Then the ticket moves, the resale is logged (and no Delisted: a sale is not a cancellation)
    (resale,) = _logs(evm, tx, "Resale")
    assert (resale.args["seller"], resale.args["buyer"], resale.args["priceWei"]) == (seller, buyer, price)
    assert _logs(evm, tx, "Delisted") == []
    assert evm.owner_of(1000) == buyer.lower()
    # And the seller is owed the price less the resale fee, the platform the fee
    fee = price * RESALE_FEE_BPS // 10_000
    assert evm.pending_withdrawal(seller) == price - fee
    primary_fee = FACE * PRIMARY_FEE_BPS // 10_000
    assert evm.pending_withdrawal(evm.roles.fee_recipient) == primary_fee + fee
    # When the seller withdraws, Then exactly that much arrives (less gas) and nothing is left owed
    before = _balance(evm, seller)
    withdraw = evm.transact("withdraw", sender=seller)
    receipt = evm.w3.eth.get_transaction_receipt(withdraw)  # type: ignore[arg-type]
    gas_cost = receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert _balance(evm, seller) == before + (price - fee) - gas_cost
    assert evm.pending_withdrawal(seller) == 0
    with pytest.raises(ChainTransactionFailed) as nothing:
        evm.transact("withdraw", sender=seller)
    assert nothing.value.error_name == "NothingToWithdraw"


def test_listing_rules(evm: TicketMarketClient) -> None:
    _event_with_tickets(evm, count=2)
    holder, stranger = _accounts(evm)[5:7]
    # The organizer's unsold inventory cannot be put on the resale market
    with pytest.raises(ChainTransactionFailed) as primary_only:
        evm.transact("list", 1001, FACE, sender=evm.roles.organizer)
    assert primary_only.value.error_name == "NotForPrimarySale"
    evm.buy_primary_for(1000, holder, FACE)
    for sender, price, error in ((stranger, FACE, "NotAuthorized"), (holder, 0, "ZeroPrice")):
        with pytest.raises(ChainTransactionFailed) as refused:
            evm.transact("list", 1000, price, sender=sender)
        assert refused.value.error_name == error
    evm.transact("list", 1000, FACE, sender=holder)
    with pytest.raises(ChainTransactionFailed) as self_buy:
        evm.transact("buyResale", 1000, sender=holder, value=FACE)
    assert self_buy.value.error_name == "BuyerIsSeller"
    tx = evm.delist_for(1000)
    assert [log.args["seller"] for log in _logs(evm, tx, "Delisted")] == [holder]
    with pytest.raises(ChainTransactionFailed) as gone:
        evm.buy_resale_for(1000, stranger, FACE)
    assert gone.value.error_name == "NotListed"


# ---------------------------------------------------------------------------------------- reentrancy


@pytest.fixture
def attacker_with_proceeds(evm: TicketMarketClient) -> tuple[Any, int]:
    """A seller contract that bought a ticket, listed it, and sold it: it is owed proceeds."""
    attacker = deploy_artifact(
        evm.w3, load_artifact("ReentrancyAttacker"), evm.contract.address, sender=_accounts(evm)[8]
    )
    _event_with_tickets(evm, count=2)
    funder, buyer = _accounts(evm)[8], _accounts(evm)[9]
    attacker.functions.buyPrimary(1000).transact({"from": funder, "value": FACE, "gas": 400_000})
    price = usd_to_wei(90)
    attacker.functions.list(1000, price).transact({"from": funder, "gas": 200_000})
    evm.transact("buyResale", 1000, sender=buyer, value=price)
    owed = price - price * RESALE_FEE_BPS // 10_000
    assert evm.pending_withdrawal(attacker.address) == owed
    return attacker, owed


def _attack(evm: TicketMarketClient, attacker: Any, mode: int, token: int = 0) -> int:
    tx = attacker.functions.attack(mode, token).transact({"from": _accounts(evm)[8], "gas": 500_000})
    return int(evm.w3.eth.get_transaction_receipt(tx)["status"])


def test_reentrant_withdraw_makes_the_whole_withdrawal_revert(
    evm: TicketMarketClient, attacker_with_proceeds: tuple[Any, int]
) -> None:
    # Given an attacker owed proceeds, whose receive() calls withdraw() again
    attacker, owed = attacker_with_proceeds
    market_balance = _balance(evm, evm.address)
    # When it withdraws
    status = _attack(evm, attacker, mode=1)
    # Then the transaction reverts, the attacker has nothing, and the market's books are intact
    assert status == 0
    assert _balance(evm, attacker.address) == 0
    assert evm.pending_withdrawal(attacker.address) == owed
    assert _balance(evm, evm.address) == market_balance


def test_reentrant_withdraw_is_refused_and_the_attacker_gets_exactly_its_due(
    evm: TicketMarketClient, attacker_with_proceeds: tuple[Any, int]
) -> None:
    # Given an attacker that swallows the failure of its reentrant withdraw()
    attacker, owed = attacker_with_proceeds
    market_balance = _balance(evm, evm.address)
    # When it withdraws
    assert _attack(evm, attacker, mode=2) == 1
    # Then the inner call was refused by the guard (Reentrancy), and it got its due exactly once
    assert attacker.functions.reentryRefused().call() is True
    assert bytes(attacker.functions.reentryRevertData().call())[:4] == keccak(text="Reentrancy()")[:4]
    assert attacker.functions.callbacks().call() == 1
    assert _balance(evm, attacker.address) == owed
    assert _balance(evm, evm.address) == market_balance - owed
    assert evm.pending_withdrawal(attacker.address) == 0


def test_balance_is_zeroed_before_the_external_call(
    evm: TicketMarketClient, attacker_with_proceeds: tuple[Any, int]
) -> None:
    # Checks-effects-interactions: during the payout call, the ledger already says "nothing owed"
    attacker, _ = attacker_with_proceeds
    _attack(evm, attacker, mode=2)
    assert attacker.functions.pendingSeenDuringCallback().call() == 0


def test_cross_function_reentry_into_a_purchase_is_refused(
    evm: TicketMarketClient, attacker_with_proceeds: tuple[Any, int]
) -> None:
    # Given a second ticket on the resale market
    attacker, owed = attacker_with_proceeds
    holder = _accounts(evm)[7]
    evm.buy_primary_for(1001, holder, FACE)
    evm.transact("list", 1001, owed, sender=holder)
    # When the attacker, while being paid, tries to buy it with the money in flight
    assert _attack(evm, attacker, mode=3, token=1001) == 1
    # Then the purchase is refused by the guard and the ticket stays listed with its holder
    assert attacker.functions.reentryRefused().call() is True
    assert bytes(attacker.functions.reentryRevertData().call())[:4] == keccak(text="Reentrancy()")[:4]
    assert evm.owner_of(1001) == holder.lower()
    assert evm.listing_price(1001) == owed
