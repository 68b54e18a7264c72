"""On-call (issue 27): the alarm definitions that infra/ and the local stack both read
(`definitions`), an alarm's state from its datapoints (`evaluation`), the REQUIRE_2FA tightening a
fraud-rate spike applies for a fixed time (`tightening`), and what an alarm does when it fires
(`actions`)."""
