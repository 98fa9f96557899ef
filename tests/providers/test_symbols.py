from datetime import date

import pandas as pd
import pytest

from orchestration.resources.providers.base import ProviderError
from orchestration.resources.providers.symbols import (
    a_share_symbol,
    drop_unfinished_session,
    fx_eastmoney_code,
    fx_yahoo_symbol,
    index_codes,
    listing,
    local_dates,
)


@pytest.mark.parametrize(
    ("symbol", "code", "sina"),
    [
        ("688256.SS", "688256", "sh688256"),
        ("603019.SS", "603019", "sh603019"),
        ("002230.SZ", "002230", "sz002230"),
        ("300308.SZ", "300308", "sz300308"),
        ("000977.SZ", "000977", "sz000977"),
    ],
)
def test_a_share_codes(symbol, code, sina):
    lst = listing(symbol)
    assert (lst.akshare_code, lst.sina_code, lst.currency, lst.calendar) == (code, sina, "CNY", "XSHG")
    assert lst.eastmoney_secucode == f"{code}.{'SH' if symbol.endswith('SS') else 'SZ'}"


@pytest.mark.parametrize(
    ("code", "symbol"),
    [
        ("688256", "688256.SS"),
        ("601138", "601138.SS"),
        ("002230", "002230.SZ"),
        ("300502", "300502.SZ"),
        ("000688", "000688.SZ"),
    ],
)
def test_a_share_exchange_routing(code, symbol):
    assert a_share_symbol(code) == symbol


def test_index_000688_is_shanghai_although_the_stock_rule_says_shenzhen():
    # 000688 the *stock* trades in Shenzhen; 000688 the SSE STAR 50 *index* is Shanghai.
    assert a_share_symbol("000688") == "000688.SZ"
    star = index_codes("STAR50")
    assert (star.akshare, star.akshare_em, star.yahoo, star.timezone) == (
        "000688",
        "sh000688",
        "000688.SS",
        "Asia/Shanghai",
    )


def test_exchange_name_wins_and_wrong_suffix_is_rejected():
    assert a_share_symbol(688256, "上海证券交易所") == "688256.SS"
    with pytest.raises(ProviderError, match="Shanghai"):
        listing("600000.SZ")
    with pytest.raises(ProviderError, match="Beijing"):
        a_share_symbol("830799")


@pytest.mark.parametrize(
    ("symbol", "ak"),
    [("0700.HK", "00700"), ("9988.HK", "09988"), ("0020.HK", "00020"), ("0100.HK", "00100")],
)
def test_hk_codes_are_zero_padded_to_five_digits(symbol, ak):
    lst = listing(symbol)
    assert (lst.akshare_code, lst.sina_code, lst.currency, lst.timezone) == (ak, ak, "HKD", "Asia/Hong_Kong")


def test_other_markets_and_fx():
    assert (listing("NVDA").currency, listing("NVDA").timezone) == ("USD", "America/New_York")
    assert (listing("000660.KS").currency, listing("000660.KS").timezone) == ("KRW", "Asia/Seoul")
    with pytest.raises(ProviderError, match="akshare covers only"):
        _ = listing("NVDA").akshare_code
    assert fx_yahoo_symbol("cny") == "CNY=X"
    assert fx_eastmoney_code("CNY") == ("USDCNH", True) and fx_eastmoney_code("EUR") == ("EURUSD", False)
    with pytest.raises(ProviderError, match="not in the index catalog"):
        index_codes("NOPE")


def test_local_dates_use_the_exchange_zone_not_utc():
    # A New York close stamped 20:00 ET is 01:00 UTC the next day; a Hong Kong bar stamped at local
    # midnight is 16:00 UTC the previous day. Both must keep the exchange's own date.
    us = pd.DatetimeIndex(["2026-01-16 01:00"], tz="UTC")
    hk = pd.DatetimeIndex(["2026-01-14 16:00"], tz="UTC")
    assert local_dates(us, "America/New_York") == [date(2026, 1, 15)]
    assert local_dates(hk, "Asia/Hong_Kong") == [date(2026, 1, 15)]
    assert local_dates(pd.DatetimeIndex(["2026-01-15"]), "Asia/Tokyo") == [date(2026, 1, 15)]


def test_unfinished_session_is_dropped_until_the_close(clock):
    frame = pd.DataFrame({"trade_date": [date(2026, 1, 19), date(2026, 1, 20)], "close": [1.0, 2.0]})
    clock("2026-01-20T05:00:00")  # 13:00 in Shanghai: the session is still trading
    assert drop_unfinished_session(frame, "trade_date", "XSHG")["trade_date"].tolist() == [date(2026, 1, 19)]
    clock("2026-01-20T08:00:00")  # 16:00 in Shanghai: closed
    assert len(drop_unfinished_session(frame, "trade_date", "XSHG")) == 2
