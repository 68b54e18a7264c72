"""The pricing experiment's offline tools: the policy simulation (`ticketguard pricing simulate`)."""
