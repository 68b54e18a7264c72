// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface ITicketMarket {
    function buyPrimary(uint256 tokenId) external payable;
    function buyResale(uint256 tokenId) external payable;
    function list(uint256 tokenId, uint256 priceWei) external;
    function withdraw() external;
    function pendingWithdrawals(address account) external view returns (uint256);
}

/// Test-only: a seller contract that tries to re-enter the market when it is paid.
/// Mode 1 re-enters `withdraw` and lets a refusal bubble up (the whole withdrawal must revert).
/// Mode 2 re-enters `withdraw` inside try/catch (the outer withdrawal completes, the inner is refused).
/// Mode 3 re-enters a different value-moving function (`buyResale`) inside try/catch.
/// It records what it saw during the callback so the tests can check checks-effects-interactions.
contract ReentrancyAttacker {
    ITicketMarket public immutable market;
    uint8 public mode;
    uint256 public reentryTokenId;
    uint256 public callbacks;
    uint256 public pendingSeenDuringCallback;
    bool public reentryRefused;
    bytes public reentryRevertData;

    constructor(address market_) {
        market = ITicketMarket(market_);
    }

    function buyPrimary(uint256 tokenId) external payable {
        market.buyPrimary{value: msg.value}(tokenId);
    }

    function list(uint256 tokenId, uint256 priceWei) external {
        market.list(tokenId, priceWei);
    }

    function attack(uint8 mode_, uint256 reentryTokenId_) external {
        mode = mode_;
        reentryTokenId = reentryTokenId_;
        market.withdraw();
    }

    receive() external payable {
        callbacks += 1;
        pendingSeenDuringCallback = market.pendingWithdrawals(address(this));
        if (mode == 1) {
            market.withdraw();
        } else if (mode == 2) {
            try market.withdraw() {
                reentryRefused = false;
            } catch (bytes memory reason) {
                reentryRefused = true;
                reentryRevertData = reason;
            }
        } else if (mode == 3) {
            try market.buyResale{value: msg.value}(reentryTokenId) {
                reentryRefused = false;
            } catch (bytes memory reason) {
                reentryRefused = true;
                reentryRevertData = reason;
            }
        }
    }
}
