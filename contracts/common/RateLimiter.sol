// SPDX-License-Identifier: UNLICENSED
pragma solidity 0.8.28;

/// @title RateLimiter
/// @notice Token bucket: up to `capacity` units at once, refilled at `ratePerSecond`.
///         A bucket with capacity 0 is unlimited (not configured).
library RateLimiter {
    struct Bucket {
        uint128 capacity;
        uint128 ratePerSecond;
        uint128 available;
        uint64 updatedAt;
    }

    /// @notice Not enough capacity left: `requested` > `available` right now.
    error RateLimitExceeded(bytes32 key, uint256 requested, uint256 available);

    /// @dev Units available now, after refill.
    function current(Bucket storage bucket) internal view returns (uint256) {
        if (bucket.capacity == 0) return type(uint256).max;
        uint256 refilled = uint256(bucket.available) + (block.timestamp - bucket.updatedAt) * bucket.ratePerSecond;
        return refilled > bucket.capacity ? bucket.capacity : refilled;
    }

    /// @dev Takes `amount` out of the bucket or reverts with RateLimitExceeded.
    function consume(Bucket storage bucket, bytes32 key, uint256 amount) internal {
        if (bucket.capacity == 0) return;
        uint256 available = current(bucket);
        if (amount > available) revert RateLimitExceeded(key, amount, available);
        // amount <= available <= capacity < 2**128
        bucket.available = uint128(available - amount);
        bucket.updatedAt = uint64(block.timestamp);
    }

    /// @dev Sets capacity and rate; the bucket starts full.
    function configure(Bucket storage bucket, uint128 capacity, uint128 ratePerSecond) internal {
        bucket.capacity = capacity;
        bucket.ratePerSecond = ratePerSecond;
        bucket.available = capacity;
        bucket.updatedAt = uint64(block.timestamp);
    }
}
