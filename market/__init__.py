"""Pure market domain: instruments, orders, limit order books, the exchange and background liquidity.

No LangChain, no Chainlit, no printing, no wall clock. Prices are integer ticks, quantities whole shares.
"""
