"""Vendor and MRS-software formats, converted to NIfTI-MRS by spec2nii and then read like any NIfTI-MRS file.

spec2nii (Clarke et al., MRM 2022; https://github.com/wtclarke/spec2nii) is the
MRS community's converter. Its Python functions are called here, not its
command line: each takes file paths, so the upload (or the members of an
uploaded .zip) is written under fixed names into a private temporary
directory (mode 0700, removed afterwards); file names and member names from
the upload never become paths. The converted image is serialised to NIfTI-MRS
bytes in memory and handed back, so that the ppm axis, coil combination,
dynamics and phasing are those of the NIfTI-MRS path.

Formats: Siemens RDA (``.rda``) and DICOM (``.ima``, ``.dcm``; Siemens, Philips
or UIH by the Manufacturer tag), Philips SPAR/SDAT (a pair: uploaded as a
``.zip`` holding both), GE P-files (``.7``), jMRUI text (``.txt`` with its
header) and binary (``.mrui``), LCModel ``.RAW``/``.H2O``, and a Bruker
experiment folder (``fid``, ``acqp``, ``method``) as a ``.zip``.

spec2nii is imported only when such a file is read. Its parsers are not
hardened against crafted files; a server reads uploads with
:func:`~gppnmf_core.io.read_dataset_isolated`, which runs this code in a
limited process.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

from .errors import DataFormatError
from .limits import format_bytes, max_bytes
from .npz import check_declared, open_zip, read_member
from .options import ReadOptions
from .sniff import DICOM_MAGIC, RDA_TEXT, looks_like_jmrui_text, wrong_content

__all__ = ["Converted", "convert_vendor", "is_vendor_upload", "spec2nii_version"]

#: Largest SPAR, RDA-header or text-like member that is parsed (bytes); these are a few KiB in practice.
_TEXT_MAX = 16 * 2**20
#: Highest plausible spectrometer frequency in MHz (1.2 GHz NMR); a larger value is a frequency in Hz.
_MAX_MHZ = 1.0e4
#: Names of the zip members that make a Bruker experiment folder.
_BRUKER_FILES = ("fid", "acqp", "method")


@dataclass
class Converted:
    """A vendor file converted to NIfTI-MRS.

    Attributes
    ----------
    nifti : bytes
        An uncompressed NIfTI-MRS file.
    notes : list of str
        Sentences for the data set's description (what was converted, by what).
    """

    nifti: bytes
    notes: list[str] = field(default_factory=list)


def spec2nii_version() -> str | None:
    """The installed spec2nii's version, or None when it is not installed."""
    try:
        from spec2nii import __version__
    except ImportError:
        return None
    return str(__version__)


def is_vendor_upload(data, ext: str) -> bool:
    """Whether a file with extension ``ext`` goes through spec2nii (a ``.txt`` only when it is jMRUI text)."""
    from .sniff import VENDOR_EXTENSIONS

    return ext in VENDOR_EXTENSIONS or (ext == ".txt" and looks_like_jmrui_text(data))


class _Failure(Exception):
    """A conversion problem found by this module (not by spec2nii), with the reason to report."""


def _file_size_limit() -> int | None:
    """The largest file this process may write (RLIMIT_FSIZE), or None when unlimited or unknown."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY or soft < 0 else int(soft)


def _write(directory: Path, stem: str, content: bytes, filename: str, converter: str) -> Path:
    """Write one input file for spec2nii under a fixed name; say clearly when the process may not write it."""
    limit = _file_size_limit()
    if limit is not None and len(content) > limit:
        raise DataFormatError(
            f"{filename}: {converter} reads its input from disk, and this server's reader process may write files "
            f"of at most {format_bytes(limit)}; this one has {format_bytes(len(content))}. Convert it to NIfTI-MRS "
            f"with spec2nii yourself and upload the .nii.gz"
        )
    path = directory / stem
    try:
        with open(path, "xb") as out:
            out.write(content)
    except OSError as exc:
        raise DataFormatError(f"{filename}: {converter} needs the file on disk, and it could not be written to a "
                              f"temporary directory ({exc.strerror or exc})") from None
    return path


#: Siemens scanners put the 1H receiver at 4.7 ppm; the toolboxes made around Siemens data (suspect, FID-A)
#: use that as their ppm reference, and spec2nii's RDA and DICOM output names none (the NIfTI-MRS tools' 4.65
#: would then apply). With it the example RDA's NAA, creatine and choline land on 2.01, 3.03 and 3.20 ppm.
SIEMENS_1H_REFERENCE_PPM = 4.7


def _receiver_reference(meta: dict, converter: str, notes: list[str]) -> None:
    """Name the receiver's chemical shift where spec2nii left it out and the vendor's convention is known."""
    nucleus = meta.get("ResonantNucleus")
    nucleus = nucleus[0] if isinstance(nucleus, list) and nucleus else nucleus
    siemens = converter in ("spec2nii rda", "spec2nii dicom")
    if siemens and nucleus == "1H" and "SpecFreqChemShift" not in meta:
        meta["SpecFreqChemShift"] = SIEMENS_1H_REFERENCE_PPM
        notes.append(f"The receiver of a Siemens 1H acquisition sits at {SIEMENS_1H_REFERENCE_PPM} ppm (the "
                     f"vendor's convention); {converter} does not record it, so it was set here.")


def _serialise(image, filename: str, converter: str, notes: list[str]) -> bytes:
    """NIfTI-MRS bytes of a spec2nii image (nibabel's own serialiser), with a frequency in Hz put right and
    the receiver's chemical shift named where the vendor's convention is known."""
    import nibabel as nib

    meta = json.loads(image.hdr_ext.to_json())
    _receiver_reference(meta, converter, notes)
    frequency = meta.get("SpectrometerFrequency")
    values = frequency if isinstance(frequency, list) else [frequency]
    if values and all(isinstance(v, (int, float)) and v > _MAX_MHZ for v in values):
        meta["SpectrometerFrequency"] = [v / 1e6 for v in values]
        notes.append(f"{converter} gave the spectrometer frequency in Hz ({values[0]:.9g}); it was read as "
                     f"{values[0] / 1e6:.9g} MHz.")
    nifti = image.image.nibImage
    if not isinstance(nifti, (nib.Nifti1Image, nib.Nifti2Image)):
        raise _Failure(f"it produced a {type(nifti).__name__}, not a NIfTI image")
    extensions = nifti.header.extensions
    extensions.clear()
    extensions.append(nib.nifti1.Nifti1Extension(44, json.dumps(meta).encode("utf-8")))
    return nifti.to_bytes()


def _run(filename: str, converter: str, convert, notes: list[str]) -> bytes:
    """Call a spec2nii function; its printed output is kept off stdout (the isolated reader's answer channel)."""
    printed = io.StringIO()
    try:
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(printed):
            warnings.simplefilter("always")
            images, names = convert()
    except (DataFormatError, MemoryError):
        raise
    except ImportError as exc:
        raise DataFormatError(f"{filename}: {converter} could not run: a package it needs is missing ({exc})") \
            from None
    except _Failure as exc:
        raise DataFormatError(f"{filename}: {converter} could not convert it: {exc}") from None
    except Exception as exc:  # spec2nii and the parsers below it raise many types for files they cannot read
        reason = str(exc).strip() or type(exc).__name__
        if len(reason) > 300:
            reason = reason[:297] + "..."
        raise DataFormatError(f"{filename}: {converter} could not convert it ({type(exc).__name__}: {reason}); "
                              f"check that the file is complete and of this format") from None
    for warning in caught[:3]:
        notes.append(f"{converter} warned: {str(warning.message).strip()[:200]}")
    if not images:
        raise DataFormatError(f"{filename}: {converter} found no spectroscopy data in it")
    if len(images) > 1:
        notes.append(f"{converter} produced {len(images)} data sets ({', '.join(map(str, names))}); the first, "
                     f"'{names[0]}', was read.")
    try:
        return _serialise(images[0], filename, converter, notes)
    except _Failure as exc:
        raise DataFormatError(f"{filename}: {converter} could not convert it: {exc}") from None
    except (DataFormatError, MemoryError):
        raise
    except Exception as exc:
        raise DataFormatError(f"{filename}: the output of {converter} could not be written as NIfTI-MRS "
                              f"({type(exc).__name__}: {exc})") from None


def _require_spec2nii(filename: str, what: str) -> str:
    version = spec2nii_version()
    if version is None:
        raise DataFormatError(f"{filename}: reading {what} needs the spec2nii converter, which is not installed on "
                              f"this server (pip install spec2nii)")
    return version


# ------------------------------------------------------------------------------------------- converters


def _rda(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    from spec2nii.Siemens.rda import convert_rda

    content = files[".rda"]
    if not content.lstrip().startswith(RDA_TEXT):
        raise wrong_content(filename, "a Siemens RDA file (it should start with '>>> Begin of header <<<')", content)
    if RDA_TEXT.replace(b"Begin", b"End") not in content[:_TEXT_MAX]:
        raise DataFormatError(f"{filename}: the RDA header has no end line ('>>> End of header <<<'); the file is "
                              f"truncated or damaged")
    path = _write(directory, "upload.rda", content, filename, "spec2nii rda")
    return lambda: convert_rda(path, "upload", False)


def _philips(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    from spec2nii.Philips.philips import read_sdat_spar_pair

    if len(files[".spar"]) > _TEXT_MAX:
        raise DataFormatError(f"{filename}: the .SPAR file is {format_bytes(len(files['.spar']))}; a SPAR header is "
                              f"a few KiB, so this is not one")
    if b"samples" not in files[".spar"] or b"synthesizer_frequency" not in files[".spar"]:
        raise DataFormatError(f"{filename}: the .SPAR file does not name 'samples' and 'synthesizer_frequency', so "
                              f"it is not a Philips SPAR header")
    spar = _write(directory, "upload.SPAR", files[".spar"], filename, "spec2nii philips")
    sdat = _write(directory, "upload.SDAT", files[".sdat"], filename, "spec2nii philips")
    return lambda: read_sdat_spar_pair(sdat, spar, None, [None, None, None], "upload", None)


def _dicom(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    import pydicom

    contents = files[".dcm"]
    first = contents[0]
    if first[128:132] != DICOM_MAGIC:
        raise _Failure("it is not a DICOM file (no 'DICM' marker after the 128-byte preamble)")
    try:
        header = pydicom.dcmread(io.BytesIO(first), stop_before_pixels=True, specific_tags=["Manufacturer"])
        manufacturer = str(header.get("Manufacturer", "") or "").strip()
    except Exception as exc:
        raise _Failure(f"it is not a DICOM file that pydicom can read ({type(exc).__name__}: {exc})") from None
    vendor = manufacturer.lower()
    if "siemens" in vendor:
        from spec2nii.Siemens.dicomfunctions import multi_file_dicom
        converter = "spec2nii dicom"
    elif "philips" in vendor:
        from spec2nii.Philips.philips_dcm import multi_file_dicom
        converter = "spec2nii philips_dcm"
    elif "uih" in vendor:
        from spec2nii.uih import multi_file_dicom
        converter = "spec2nii uih"
    else:
        raise _Failure(f"its manufacturer is {manufacturer or 'not given'}; spec2nii converts spectroscopy DICOM "
                       f"from Siemens, Philips and UIH")
    paths = [_write(directory, f"upload_{i:03d}.dcm", c, filename, converter) for i, c in enumerate(contents)]
    tag = "DIM_DYN" if len(paths) > 1 else None
    return converter, (lambda: multi_file_dicom(paths, "upload", tag, False))


def _ge(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    from spec2nii.GE.ge_pfile import read_pfile

    path = _write(directory, "upload.7", files[".7"], filename, "spec2nii ge")
    return lambda: read_pfile(path, "upload")


def _jmrui(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    from spec2nii import jmrui

    args = SimpleNamespace(affine=None, fileout="upload")
    if ".mrui" in files:
        args.file = _write(directory, "upload.mrui", files[".mrui"], filename, "spec2nii jmrui")
        return lambda: jmrui.jmrui_mrui(args)
    content = files[".txt"]
    if len(content) > max_bytes():
        raise DataFormatError(f"{filename}: the jMRUI text file is larger than {format_bytes(max_bytes())}")
    args.file = _write(directory, "upload.txt", content, filename, "spec2nii jmrui")
    return lambda: jmrui.jmrui_txt(args)


def _lcmodel(files: dict[str, bytes], filename: str, directory: Path, options: ReadOptions, notes: list[str]):
    from spec2nii import other_formats

    notes.append("LCModel .RAW files do not name the nucleus; it was taken to be 1H.")
    args = SimpleNamespace(affine=None, fileout="upload", nucleus="1H",
                           imagingfreq=options.spectrometer_mhz,
                           bandwidth=None if options.dwell_time_s is None else 1.0 / options.dwell_time_s)
    args.file = str(_write(directory, "upload.RAW", files[".raw"], filename, "spec2nii raw"))

    def convert():
        try:
            return other_formats.lcm_raw(args)
        except Exception as exc:
            if "header information" in str(exc):
                raise _Failure("its header gives no dwell time or spectrometer frequency; give them in the "
                               "reading options") from None
            raise
    return convert


def _bruker(members: dict[str, bytes], filename: str, directory: Path, options: ReadOptions):
    from spec2nii.bruker import read_bruker

    folder = directory / "experiment"
    folder.mkdir(mode=0o700)
    for name in _BRUKER_FILES:
        _write(folder, name, members[name], filename, "spec2nii bruker")
    args = SimpleNamespace(file=str(folder / "fid"), mode="FID", query=[], dump_headers=False, zeropad=False,
                           nospectrum=False, fileout="upload", inspect=False)
    return lambda: read_bruker(args)


# ----------------------------------------------------------------------------------------------- zip


def _zip_members(data, filename: str) -> dict[str, list[tuple[str, bytes]]]:
    """The files of an uploaded .zip grouped by lower-case extension (``""`` for none), with their short names."""
    with open_zip(data, filename, "a ZIP archive") as zf:
        infos = [info for info in zf.infolist() if not info.filename.endswith("/")]
        check_declared(infos, filename)
        grouped: dict[str, list[tuple[str, bytes]]] = {}
        cap = max_bytes()
        for info in infos:
            short = info.filename.replace("\\", "/").rsplit("/", 1)[-1]
            if not short or short.startswith(".") or info.filename.startswith("__MACOSX/"):
                continue  # folders' metadata that archivers add (.DS_Store, __MACOSX/._x)
            ext = os.path.splitext(short)[1].lower()
            grouped.setdefault(ext, []).append((short, read_member(zf, info, filename, cap)))
    return grouped


def _from_zip(data, filename: str) -> tuple[str, dict[str, object], str]:
    """What an uploaded .zip holds: (format key, the files the converter needs, a note)."""
    grouped = _zip_members(data, filename)
    listed = ", ".join(sorted(name for items in grouped.values() for name, _ in items)[:12]) or "nothing"
    spar, sdat = grouped.get(".spar", []), grouped.get(".sdat", [])
    if spar or sdat:
        if len(spar) != 1 or len(sdat) != 1:
            raise DataFormatError(f"{filename}: a Philips upload needs exactly one .SPAR and one .SDAT file in the "
                                  f".zip; it holds {len(spar)} .SPAR and {len(sdat)} .SDAT ({listed})")
        return "philips", {".spar": spar[0][1], ".sdat": sdat[0][1]}, (
            f"Philips SPAR/SDAT pair {spar[0][0]} and {sdat[0][0]} from the .zip.")
    bare = {name.lower(): content for name, content in grouped.get("", [])}
    if all(name in bare for name in _BRUKER_FILES):
        return "bruker", {name: bare[name] for name in _BRUKER_FILES}, (
            "Bruker experiment (fid, acqp, method) from the .zip.")
    dicoms = sorted(grouped.get(".ima", []) + grouped.get(".dcm", []))
    if dicoms:
        dynamics = ", read as dynamics (DIM_DYN)." if len(dicoms) > 1 else "."
        return "dicom", {".dcm": [content for _, content in dicoms]}, (
            f"{len(dicoms)} DICOM file(s) from the .zip{dynamics}")
    for ext, key in ((".rda", "rda"), (".7", "ge"), (".mrui", "jmrui"), (".raw", "raw"), (".h2o", "raw")):
        if len(grouped.get(ext, [])) == 1:
            short, content = grouped[ext][0]
            return key, {".raw" if key == "raw" else ext: content}, f"{short} from the .zip."
    texts = [(n, c) for n, c in grouped.get(".txt", []) if looks_like_jmrui_text(c)]
    if len(texts) == 1:
        return "jmrui", {".txt": texts[0][1]}, f"{texts[0][0]} from the .zip."
    raise DataFormatError(
        f"{filename}: the .zip holds no file set that can be read ({listed}). A .zip upload is for a Philips "
        f".SPAR + .SDAT pair, DICOM files (.IMA/.dcm), a Bruker experiment folder (fid, acqp, method) or one "
        f"Siemens .rda, GE .7, jMRUI or LCModel file"
    )


# ------------------------------------------------------------------------------------------- entry point

_LABELS = {"rda": ("spec2nii rda", "Siemens RDA"), "philips": ("spec2nii philips", "Philips SPAR/SDAT"),
           "dicom": ("spec2nii dicom", "DICOM"), "ge": ("spec2nii ge", "GE P-file"),
           "jmrui": ("spec2nii jmrui", "jMRUI"), "raw": ("spec2nii raw", "LCModel .RAW"),
           "bruker": ("spec2nii bruker", "Bruker")}
_BY_EXTENSION = {".rda": "rda", ".ima": "dicom", ".dcm": "dicom", ".7": "ge", ".mrui": "jmrui", ".txt": "jmrui",
                 ".raw": "raw", ".h2o": "raw"}


def convert_vendor(data: bytes, filename: str, ext: str, options: ReadOptions) -> Converted:
    """Convert a vendor file (or a .zip of them) to NIfTI-MRS bytes with spec2nii.

    Parameters
    ----------
    data : bytes
        The upload.
    filename : str
        Its name, for messages (never used as a path).
    ext : str
        Its extension, lower case (one of ``sniff.VENDOR_EXTENSIONS``, or ``.txt`` for jMRUI text).
    options : ReadOptions
        ``spectrometer_mhz`` and ``dwell_time_s`` fill in what an LCModel file lacks.

    Returns
    -------
    Converted

    Raises
    ------
    DataFormatError
        Naming the file, the converter (e.g. "spec2nii rda") and why, when the
        file cannot be converted; a lone .SPAR or .SDAT asks for the pair as a .zip.
    """
    if ext in (".spar", ".sdat"):
        other = ".SDAT" if ext == ".spar" else ".SPAR"
        raise DataFormatError(
            f"{filename}: Philips spectroscopy comes as a pair of files, {os.path.splitext(filename)[0]}.SPAR (the "
            f"header) and .SDAT (the data), and this page takes one file at a time; put this file and its {other} "
            f"into one .zip and upload the .zip"
        )
    if options.kind == "spectra":
        raise DataFormatError(f"{filename}: vendor spectroscopy files hold complex FIDs (time domain), not spectra; "
                              f"choose 'auto' or 'FID' as the content")
    notes: list[str] = []
    if ext == ".zip":
        key, files, note = _from_zip(data, filename)
        notes.append(note)
    else:
        key = _BY_EXTENSION[ext]
        files = {".dcm": [bytes(data)]} if key == "dicom" else {".raw" if key == "raw" else ext: bytes(data)}
    converter, what = _LABELS[key]
    version = _require_spec2nii(filename, f"{what} files")
    with tempfile.TemporaryDirectory(prefix="gppnmf-spec2nii-") as tmp:
        directory = Path(tmp)
        os.chmod(directory, 0o700)
        try:
            if key == "dicom":
                converter, convert = _dicom(files, filename, directory, options)
            elif key == "raw":
                convert = _lcmodel(files, filename, directory, options, notes)
            else:
                convert = {"rda": _rda, "philips": _philips, "ge": _ge, "jmrui": _jmrui, "bruker": _bruker}[key](
                    files, filename, directory, options)
        except _Failure as exc:
            raise DataFormatError(f"{filename}: {converter} could not convert it: {exc}") from None
        except ImportError as exc:
            raise DataFormatError(f"{filename}: {converter} could not run: a package it needs is missing ({exc})") \
                from None
        nifti = _run(filename, converter, convert, notes)
    notes.insert(0, f"{what} file converted to NIfTI-MRS by {converter} (spec2nii {version}).")
    return Converted(nifti=nifti, notes=notes)
