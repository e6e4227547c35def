"""The lab autoscaler: powers boxes on when pods wait for them and off when they idle
(docs/autoscaler.md). It sits above the components: it plans with the scheduler's own filters."""
