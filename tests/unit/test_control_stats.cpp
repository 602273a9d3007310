// SPDX-License-Identifier: MIT
//
// The latency histogram arithmetic of ktlsaccel::control::stats: percentiles from
// the log2 buckets, and deltas between two samples (as `top` uses them).

#include <ktlsaccel/control.hpp>

#include <gtest/gtest.h>

using ktlsaccel::control::stats;

TEST(ControlStats, NoSamplesHaveNoPercentile)
{
	stats s;
	EXPECT_EQ(s.latency_samples(), 0u);
	EXPECT_FALSE(s.p50_us());
	EXPECT_FALSE(s.p99_us());
}

TEST(ControlStats, PercentileInterpolatesInsideTheBucket)
{
	stats s;
	s.latency[3] = 100;	/* [8, 16) us */
	EXPECT_DOUBLE_EQ(*s.p50_us(), 12.0);
	EXPECT_DOUBLE_EQ(*s.latency_quantile_us(1.0), 16.0);
	EXPECT_DOUBLE_EQ(*s.latency_quantile_us(0.0), 8.0);
}

TEST(ControlStats, BucketZeroStartsAtZero)
{
	stats s;
	s.latency[0] = 10;	/* [0, 2) us: includes everything under 1 us */
	EXPECT_DOUBLE_EQ(*s.p50_us(), 1.0);
}

TEST(ControlStats, P99FallsInTheTailBucket)
{
	stats s;
	s.latency[4] = 980;	/* [16, 32) */
	s.latency[8] = 20;	/* [256, 512) */
	EXPECT_EQ(s.latency_samples(), 1000u);
	double p50 = *s.p50_us(), p99 = *s.p99_us();
	EXPECT_GE(p50, 16.0);
	EXPECT_LT(p50, 32.0);
	EXPECT_GE(p99, 256.0);
	EXPECT_LT(p99, 512.0);
	/* rank 990 is the 10th of 20 in the tail bucket: half way. */
	EXPECT_DOUBLE_EQ(p99, 384.0);
}

TEST(ControlStats, PercentileIsMonotonic)
{
	stats s;
	for (std::size_t i = 0; i < s.latency.size(); i++)
		s.latency[i] = (i * 7919) % 13;
	double last = 0;
	for (int q = 0; q <= 100; q++) {
		double v = *s.latency_quantile_us(q / 100.0);
		EXPECT_GE(v, last) << "q=" << q;
		last = v;
	}
}

TEST(ControlStats, TopBucketEndsAtTwoToThe24)
{
	stats s;
	s.latency.back() = 1;
	EXPECT_DOUBLE_EQ(*s.latency_quantile_us(1.0), 16777216.0);
}

TEST(ControlStats, DeltaSubtractsCountersAndKeepsGauges)
{
	stats a, b;
	a.completed = 10;
	a.bytes = 1000;
	a.latency[2] = 5;
	a.in_flight = 9;
	b = a;
	b.completed = 25;
	b.bytes = 4000;
	b.latency[2] = 8;
	b.latency[5] = 12;
	b.in_flight = 2;
	b.max_in_flight = 30;
	stats d = stats::delta(b, a);
	EXPECT_EQ(d.completed, 15u);
	EXPECT_EQ(d.bytes, 3000u);
	EXPECT_EQ(d.latency[2], 3u);
	EXPECT_EQ(d.latency[5], 12u);
	EXPECT_EQ(d.in_flight, 2u);
	EXPECT_EQ(d.max_in_flight, 30u);
}

TEST(ControlStats, DeltaAfterResetCountsFromZero)
{
	stats before, now;
	before.completed = 1000;
	before.latency[3] = 1000;
	now.completed = 40;
	now.latency[3] = 30;
	now.latency[4] = 10;
	stats d = stats::delta(now, before);
	EXPECT_EQ(d.completed, 40u);
	EXPECT_EQ(d.latency[3], 30u);
	EXPECT_EQ(d.latency[4], 10u);
}
