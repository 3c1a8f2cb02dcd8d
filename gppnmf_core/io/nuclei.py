"""What the readers know about each nucleus: ppm reference, metabolite range, where signals lie.

The chemical-shift reference follows the NIfTI-MRS standard (Clarke et al.,
MRM 2022) as its tools compute it: the ppm of a point at frequency f (Hz,
relative to the receiver) is ``f / SpectrometerFrequency + SpecFreqChemShift
+ RxOffset``; where the header has no ``SpecFreqChemShift`` the tools assume
a default per nucleus (1H 4.65 ppm, 2H 4.8 ppm, 13C and 31P 0 ppm, any other
nucleus 0 ppm), and ``RxOffset`` defaults to 0.
"""

from __future__ import annotations

import re

__all__ = ["canonical_nucleus", "default_shift", "metabolite_range", "signal_range", "file_reference"]

#: SpecFreqChemShift (ppm) the NIfTI-MRS tools assume when the header has none.
DEFAULT_SHIFT_PPM = {"1H": 4.65, "2H": 4.8, "13C": 0.0, "31P": 0.0}
#: Where a nucleus's metabolites lie (ppm): the default crop of spectra made from FIDs.
METABOLITE_RANGE_PPM = {"1H": (0.2, 4.3), "2H": (0.5, 6.0), "31P": (-20.0, 10.0), "13C": (150.0, 190.0)}
#: Where any signal may lie (ppm), with water and broad lines; outside it a spectrum holds noise only.
SIGNAL_RANGE_PPM = {"1H": (-1.0, 10.0), "2H": (-1.0, 10.0), "31P": (-25.0, 15.0), "13C": (140.0, 200.0)}


def canonical_nucleus(nucleus: str | None) -> str | None:
    """``"1H"`` for "1H", "1h", "H1" or "h"; None when unknown or absent."""
    if nucleus is None:
        return None
    text = str(nucleus).strip()
    match = re.fullmatch(r"(\d*)\s*([A-Za-z]{1,2})\s*(\d*)", text)
    if not match or (match.group(1) and match.group(3)):
        return text or None
    mass = match.group(1) or match.group(3)
    symbol = match.group(2).capitalize()
    if not mass:
        mass = {"H": "1", "P": "31", "C": "13"}.get(symbol, "")
    return f"{mass}{symbol}"


def default_shift(nucleus: str | None) -> float | None:
    """The NIfTI-MRS tools' SpecFreqChemShift for the nucleus, None for an unknown or absent one."""
    return DEFAULT_SHIFT_PPM.get(canonical_nucleus(nucleus) or "")


def metabolite_range(nucleus: str | None) -> tuple[float, float] | None:
    """(low, high) ppm of the nucleus's metabolites, None when not known."""
    return METABOLITE_RANGE_PPM.get(canonical_nucleus(nucleus) or "")


def signal_range(nucleus: str | None) -> tuple[float, float] | None:
    """(low, high) ppm outside which a spectrum of this nucleus holds only noise, None when not known."""
    return SIGNAL_RANGE_PPM.get(canonical_nucleus(nucleus) or "")


def file_reference(nucleus: str | None, spec_freq_chem_shift: float | None,
                   rx_offset: float | None) -> tuple[float | None, str]:
    """Chemical shift of the spectrometer (centre) frequency from NIfTI-MRS header fields.

    Parameters
    ----------
    nucleus : str or None
        ``ResonantNucleus``.
    spec_freq_chem_shift, rx_offset : float or None
        The header's ``SpecFreqChemShift`` and ``RxOffset`` (ppm), None when absent.

    Returns
    -------
    reference : float or None
        ``SpecFreqChemShift + RxOffset`` with the tools' defaults; None when
        the header has no ``SpecFreqChemShift`` and the nucleus has no default.
    source : str
        Where the value came from, for the description.
    """
    offset = rx_offset if rx_offset is not None else 0.0
    offset_text = f" + RxOffset {rx_offset:g} ppm" if rx_offset else ""
    if spec_freq_chem_shift is not None:
        return (spec_freq_chem_shift + offset,
                f"SpecFreqChemShift {spec_freq_chem_shift:g} ppm{offset_text} from the header")
    shift = default_shift(nucleus)
    if shift is None:
        if rx_offset:
            return offset, (f"the header's RxOffset {rx_offset:g} ppm; no SpecFreqChemShift and no default for "
                            f"this nucleus")
        return None, ""
    return shift + offset, (f"the NIfTI-MRS tools' default SpecFreqChemShift for {canonical_nucleus(nucleus)}, "
                            f"{shift:g} ppm, as the header has none{offset_text}")
