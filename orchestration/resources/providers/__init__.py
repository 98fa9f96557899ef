from orchestration.resources.providers.base import (
    FetchResult,
    MarketDataProvider,
    ProviderError,
    SourceUnreachableError,
)

__all__ = ["FetchResult", "MarketDataProvider", "ProviderError", "SourceUnreachableError"]
