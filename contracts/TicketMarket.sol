// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title TicketMarket: ERC-721-style event tickets with primary sale, resale and platform fees.
/// @notice Token ids and event ids are the marketplace backend's ids (tickets.ticket_id,
///         events.event_id), so chain and database name the same things the same way.
///
/// Money. Every sale credits proceeds to `pendingWithdrawals`; recipients pull them with
/// `withdraw()`. We chose pull payments over a gas-limited push because a push to a seller that
/// is a contract (or a wallet that reverts) would either make the sale fail (a seller could block
/// buyers of its own listing) or need a fallback ledger anyway; with pull payments a sale never
/// calls untrusted code, and the only function that does (`withdraw`) zeroes the balance before
/// the call (checks-effects-interactions) and is `nonReentrant` as well.
///
/// Roles. The owner (the platform) appoints organizers, who create events and mint their
/// tickets, and operators: the platform's relayer that buys, lists and delists on behalf of users
/// of its custodial wallets (how most ticketing platforms work: users pay by card, the platform
/// settles on chain). Self-custodied wallets use the same paths directly.
contract TicketMarket {
    // ------------------------------------------------------------------ errors
    error NotOwner();
    error NotOrganizer();
    error NotOperator();
    error NotEventOrganizer(uint256 eventId);
    error EventExists(uint256 eventId);
    error UnknownEvent(uint256 eventId);
    error ZeroCapacity();
    error CapacityExceeded(uint256 eventId, uint32 capacity);
    error TokenExists(uint256 tokenId);
    error UnknownToken(uint256 tokenId);
    error NotAuthorized(address caller, uint256 tokenId);
    error WrongFrom(address expected, address given);
    error ZeroAddress();
    error AlreadySold(uint256 tokenId);
    error NotForPrimarySale(uint256 tokenId);
    error NotListed(uint256 tokenId);
    error AlreadyListed(uint256 tokenId);
    error ZeroPrice();
    error WrongPayment(uint256 expected, uint256 given);
    error BuyerIsSeller();
    error NothingToWithdraw();
    error TransferFailed();
    error Reentrancy();
    error FeeTooHigh(uint16 bps);

    // ------------------------------------------------------------------ events (agreed with the ETL)
    event EventCreated(uint256 indexed eventId, uint32 capacity, uint256 faceValueWei, address organizer);
    event TicketMinted(uint256 indexed tokenId, uint256 indexed eventId, address indexed to);
    event Transfer(address indexed from, address indexed to, uint256 indexed tokenId);
    event Approval(address indexed owner, address indexed approved, uint256 indexed tokenId);
    event ApprovalForAll(address indexed owner, address indexed operator, bool approved);
    event PrimarySale(uint256 indexed tokenId, uint256 indexed eventId, address indexed buyer, uint256 priceWei);
    event Listed(uint256 indexed tokenId, address indexed seller, uint256 priceWei);
    event Delisted(uint256 indexed tokenId, address indexed seller);
    event Resale(uint256 indexed tokenId, address indexed seller, address indexed buyer, uint256 priceWei);
    event Withdrawal(address indexed account, uint256 amountWei);

    // ------------------------------------------------------------------ state
    struct EventInfo {
        address organizer;
        uint32 capacity;
        uint32 minted;
        bool exists;
        uint256 faceValueWei;
    }

    uint16 public constant MAX_FEE_BPS = 2_000;
    uint256 private constant _NOT_ENTERED = 1;
    uint256 private constant _ENTERED = 2;

    address public immutable owner;
    address public immutable feeRecipient;
    uint16 public immutable primaryFeeBps;
    uint16 public immutable resaleFeeBps;

    uint256 private _reentrancyStatus = _NOT_ENTERED;

    mapping(address => bool) public isOrganizer;
    mapping(address => bool) public isOperator;
    mapping(uint256 => EventInfo) public events;
    mapping(uint256 => uint256) public eventOf; // tokenId -> eventId
    mapping(uint256 => bool) public primarySold;
    mapping(uint256 => uint256) public listingPrice; // 0 = not listed (a listing needs a positive price)
    mapping(address => uint256) public pendingWithdrawals;

    mapping(uint256 => address) private _owners;
    mapping(address => uint256) private _balances;
    mapping(uint256 => address) private _tokenApprovals;
    mapping(address => mapping(address => bool)) private _operatorApprovals;

    // ------------------------------------------------------------------ modifiers
    modifier nonReentrant() {
        if (_reentrancyStatus == _ENTERED) revert Reentrancy();
        _reentrancyStatus = _ENTERED;
        _;
        _reentrancyStatus = _NOT_ENTERED;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier onlyOrganizer() {
        if (!isOrganizer[msg.sender]) revert NotOrganizer();
        _;
    }

    modifier onlyOperator() {
        if (!isOperator[msg.sender]) revert NotOperator();
        _;
    }

    constructor(address feeRecipient_, uint16 primaryFeeBps_, uint16 resaleFeeBps_) {
        if (feeRecipient_ == address(0)) revert ZeroAddress();
        if (primaryFeeBps_ > MAX_FEE_BPS) revert FeeTooHigh(primaryFeeBps_);
        if (resaleFeeBps_ > MAX_FEE_BPS) revert FeeTooHigh(resaleFeeBps_);
        owner = msg.sender;
        feeRecipient = feeRecipient_;
        primaryFeeBps = primaryFeeBps_;
        resaleFeeBps = resaleFeeBps_;
    }

    // ------------------------------------------------------------------ roles
    function setOrganizer(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        isOrganizer[account] = enabled;
    }

    function setOperator(address account, bool enabled) external onlyOwner {
        if (account == address(0)) revert ZeroAddress();
        isOperator[account] = enabled;
    }

    // ------------------------------------------------------------------ events and minting
    function createEvent(uint256 eventId, uint32 capacity, uint256 faceValueWei) external onlyOrganizer {
        if (events[eventId].exists) revert EventExists(eventId);
        if (capacity == 0) revert ZeroCapacity();
        events[eventId] = EventInfo(msg.sender, capacity, 0, true, faceValueWei);
        emit EventCreated(eventId, capacity, faceValueWei, msg.sender);
    }

    /// Mints `count` tickets with consecutive ids starting at `firstTokenId` to `to` (usually the
    /// organizer's own inventory, sold later through `buyPrimary*`). One transaction per batch keeps
    /// a large event's mint cheap.
    function mintBatch(uint256 eventId, uint256 firstTokenId, uint32 count, address to) external {
        EventInfo storage info = events[eventId];
        if (!info.exists) revert UnknownEvent(eventId);
        if (msg.sender != info.organizer) revert NotEventOrganizer(eventId);
        if (to == address(0)) revert ZeroAddress();
        if (uint256(info.minted) + count > info.capacity) revert CapacityExceeded(eventId, info.capacity);
        info.minted += count;
        for (uint256 tokenId = firstTokenId; tokenId < firstTokenId + count; ++tokenId) {
            if (_owners[tokenId] != address(0)) revert TokenExists(tokenId);
            _owners[tokenId] = to;
            eventOf[tokenId] = eventId;
            emit Transfer(address(0), to, tokenId);
            emit TicketMinted(tokenId, eventId, to);
        }
        _balances[to] += count;
    }

    // ------------------------------------------------------------------ ERC-721 surface
    function ownerOf(uint256 tokenId) public view returns (address holder) {
        holder = _owners[tokenId];
        if (holder == address(0)) revert UnknownToken(tokenId);
    }

    function balanceOf(address holder) external view returns (uint256) {
        if (holder == address(0)) revert ZeroAddress();
        return _balances[holder];
    }

    function approve(address to, uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        if (msg.sender != holder && !_operatorApprovals[holder][msg.sender]) {
            revert NotAuthorized(msg.sender, tokenId);
        }
        _tokenApprovals[tokenId] = to;
        emit Approval(holder, to, tokenId);
    }

    function getApproved(uint256 tokenId) external view returns (address) {
        ownerOf(tokenId);
        return _tokenApprovals[tokenId];
    }

    function setApprovalForAll(address operator, bool approved) external {
        if (operator == address(0)) revert ZeroAddress();
        _operatorApprovals[msg.sender][operator] = approved;
        emit ApprovalForAll(msg.sender, operator, approved);
    }

    function isApprovedForAll(address holder, address operator) external view returns (bool) {
        return _operatorApprovals[holder][operator];
    }

    function transferFrom(address from, address to, uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        if (holder != from) revert WrongFrom(holder, from);
        if (!_isAuthorized(msg.sender, holder, tokenId)) revert NotAuthorized(msg.sender, tokenId);
        _transfer(holder, to, tokenId);
    }

    // ------------------------------------------------------------------ primary sale
    /// The caller buys a ticket still in its organizer's inventory at the event's face value.
    function buyPrimary(uint256 tokenId) external payable nonReentrant {
        _buyPrimary(tokenId, msg.sender);
    }

    /// The platform's relayer buys on behalf of `buyer` (custodial wallet; paid off-chain by card).
    function buyPrimaryFor(uint256 tokenId, address buyer) external payable onlyOperator nonReentrant {
        _buyPrimary(tokenId, buyer);
    }

    // ------------------------------------------------------------------ listing and resale
    function list(uint256 tokenId, uint256 priceWei) external {
        address holder = ownerOf(tokenId);
        if (!_isAuthorized(msg.sender, holder, tokenId)) revert NotAuthorized(msg.sender, tokenId);
        _list(holder, tokenId, priceWei);
    }

    function listFor(uint256 tokenId, uint256 priceWei) external onlyOperator {
        _list(ownerOf(tokenId), tokenId, priceWei);
    }

    function delist(uint256 tokenId) external {
        address holder = ownerOf(tokenId);
        if (!_isAuthorized(msg.sender, holder, tokenId) && !isOperator[msg.sender]) {
            revert NotAuthorized(msg.sender, tokenId);
        }
        if (listingPrice[tokenId] == 0) revert NotListed(tokenId);
        delete listingPrice[tokenId];
        emit Delisted(tokenId, holder);
    }

    function buyResale(uint256 tokenId) external payable nonReentrant {
        _buyResale(tokenId, msg.sender);
    }

    function buyResaleFor(uint256 tokenId, address buyer) external payable onlyOperator nonReentrant {
        _buyResale(tokenId, buyer);
    }

    // ------------------------------------------------------------------ payouts
    function withdraw() external nonReentrant {
        uint256 amount = pendingWithdrawals[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        // Effects before the interaction: a reentrant call (were it not refused) would find nothing.
        pendingWithdrawals[msg.sender] = 0;
        emit Withdrawal(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ internals
    function _isAuthorized(address spender, address holder, uint256 tokenId) private view returns (bool) {
        return spender == holder || _operatorApprovals[holder][spender] || _tokenApprovals[tokenId] == spender;
    }

    function _transfer(address from, address to, uint256 tokenId) private {
        if (to == address(0)) revert ZeroAddress();
        delete _tokenApprovals[tokenId];
        if (listingPrice[tokenId] != 0) {
            // A listing belongs to the holder who made it; it never survives a change of hands.
            delete listingPrice[tokenId];
            emit Delisted(tokenId, from);
        }
        unchecked {
            _balances[from] -= 1;
        }
        _balances[to] += 1;
        _owners[tokenId] = to;
        emit Transfer(from, to, tokenId);
    }

    function _list(address holder, uint256 tokenId, uint256 priceWei) private {
        if (priceWei == 0) revert ZeroPrice();
        if (listingPrice[tokenId] != 0) revert AlreadyListed(tokenId);
        if (!primarySold[tokenId]) revert NotForPrimarySale(tokenId);
        listingPrice[tokenId] = priceWei;
        emit Listed(tokenId, holder, priceWei);
    }

    function _buyPrimary(uint256 tokenId, address buyer) private {
        // Checks
        if (buyer == address(0)) revert ZeroAddress();
        address holder = ownerOf(tokenId);
        if (primarySold[tokenId]) revert AlreadySold(tokenId);
        uint256 eventId = eventOf[tokenId];
        EventInfo storage info = events[eventId];
        if (holder != info.organizer) revert NotForPrimarySale(tokenId);
        uint256 price = info.faceValueWei;
        if (msg.value != price) revert WrongPayment(price, msg.value);
        if (buyer == holder) revert BuyerIsSeller();
        // Effects (no interaction follows: proceeds are credited, then pulled with withdraw())
        uint256 fee = (price * primaryFeeBps) / 10_000;
        primarySold[tokenId] = true;
        pendingWithdrawals[holder] += price - fee;
        pendingWithdrawals[feeRecipient] += fee;
        _transfer(holder, buyer, tokenId);
        emit PrimarySale(tokenId, eventId, buyer, price);
    }

    function _buyResale(uint256 tokenId, address buyer) private {
        // Checks
        if (buyer == address(0)) revert ZeroAddress();
        uint256 price = listingPrice[tokenId];
        if (price == 0) revert NotListed(tokenId);
        if (msg.value != price) revert WrongPayment(price, msg.value);
        address seller = ownerOf(tokenId);
        if (buyer == seller) revert BuyerIsSeller();
        // Effects
        uint256 fee = (price * resaleFeeBps) / 10_000;
        delete listingPrice[tokenId]; // cleared before _transfer so no Delisted is emitted for a sale
        pendingWithdrawals[seller] += price - fee;
        pendingWithdrawals[feeRecipient] += fee;
        _transfer(seller, buyer, tokenId);
        emit Resale(tokenId, seller, buyer, price);
    }
}
