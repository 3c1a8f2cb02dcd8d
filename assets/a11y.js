/* GPP-NMF Studio: accessibility repairs for what Dash 4.4's components render and do not let us set.
 *
 * Each repair is small, idempotent and re-applied whenever the page changes (one MutationObserver; changes inside
 * a chart are left to the chart's own plotly_afterplot hook, so a redraw does not walk the whole page):
 *  - dropdowns: Dash puts an aria-hidden, focusable <input> before the real trigger button (a Safari
 *    workaround); we take that input out of the tab order and put the named button back in it;
 *  - checklists and radio items: Dash renders <label role="option"> around each checkbox (a listbox of
 *    options that contain inputs); they become a plain group / radiogroup of labelled inputs;
 *  - file inputs inside dcc.Upload get a name (the text of their zone, or data-file-label on an ancestor);
 *    where the zone holds its own button, the hidden input leaves the tab order (the button opens it);
 *  - sliders (Radix thumbs) are named by the label in data-slider-label on a wrapper, and announce their
 *    value in the unit shown (data-slider-format: "log10" → 10^value, "percent", "index1" → value + 1);
 *  - charts: the first SVG of each plotly graph is an image named by the summary its figure carries
 *    (layout.meta.summary, written by components/figures.py); mode-bar buttons leave the tab order;
 *  - inputs inside an element with data-describedby are described by that element (their error message);
 *  - links with data-focus (the skip link) move the keyboard focus to that element.
 */
(function () {
  "use strict";

  function setAttr(el, name, value) {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  }

  function dropFocusTraps(root) {
    root.querySelectorAll(".dash-dropdown-focus-target").forEach(function (trap) {
      setAttr(trap, "tabindex", "-1");
      var button = trap.nextElementSibling;
      if (button && button.tagName === "BUTTON" && !button.disabled) setAttr(button, "tabindex", "0");
    });
  }

  function plainOptionGroups(root) {
    root.querySelectorAll(".dash-checklist[role=listbox], .dash-radioitems[role=listbox]").forEach(function (list) {
      list.setAttribute("role", list.classList.contains("dash-radioitems") ? "radiogroup" : "group");
    });
    root.querySelectorAll(".dash-checklist label[role=option], .dash-radioitems label[role=option], " +
                          ".dash-checklist label[aria-selected], .dash-radioitems label[aria-selected]")
      .forEach(function (label) {
        label.removeAttribute("role");
        label.removeAttribute("aria-selected");
      });
  }

  function nameFileInputs(root) {
    root.querySelectorAll("input[type=file]").forEach(function (input) {
      var zone = input.parentElement;
      var named = input.closest("[data-file-label]");
      var text = named ? named.getAttribute("data-file-label") : (zone ? zone.textContent.trim() : "");
      setAttr(input, "aria-label", text || "Choose a file");
      if (zone && zone.querySelector("button")) setAttr(input, "tabindex", "-1");
    });
  }

  function formatNumber(x) {
    if (!isFinite(x)) return String(x);
    var abs = Math.abs(x);
    if (abs !== 0 && (abs >= 1e6 || abs < 1e-3)) return x.toExponential(2).replace("e+", "e");
    return String(Number(x.toPrecision(3)));
  }

  function sliderValueText(format, now, prefix) {
    var v = parseFloat(now);
    if (isNaN(v)) return null;
    var text;
    if (format === "log10") text = formatNumber(Math.pow(10, v));
    else if (format === "percent") text = formatNumber(v) + " %";
    else if (format === "index1") text = String(Math.round(v) + 1);
    else text = formatNumber(v);
    return (prefix || "") + text;
  }

  function describeSlider(wrap) {
    var thumb = wrap.querySelector("[role=slider]");
    if (!thumb) return;
    setAttr(thumb, "aria-labelledby", wrap.getAttribute("data-slider-label"));
    var text = sliderValueText(wrap.getAttribute("data-slider-format"), thumb.getAttribute("aria-valuenow"),
                               wrap.getAttribute("data-slider-prefix"));
    if (text !== null) setAttr(thumb, "aria-valuetext", text);
  }

  function describeSliders(root) {
    root.querySelectorAll("[data-slider-label]").forEach(describeSlider);
  }

  function summary(gd) {
    var meta = gd && gd.layout && gd.layout.meta;
    if (meta && typeof meta.summary === "string") return meta.summary;
    var title = gd && gd.layout && gd.layout.title;
    return (title && (title.text || title)) || "chart";
  }

  function describeCharts(root) {
    root.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      var svg = gd.querySelector("svg.main-svg");
      if (svg) {
        setAttr(svg, "role", "img");
        setAttr(svg, "aria-label", String(summary(gd)));
      }
      gd.querySelectorAll(".modebar-btn").forEach(function (b) { setAttr(b, "tabindex", "-1"); });
      if (!gd.__a11yHooked && typeof gd.on === "function") {
        gd.__a11yHooked = true;
        gd.on("plotly_afterplot", function () { describeCharts(gd.parentElement || document); });
      }
    });
  }

  function tieMessages(root) {
    root.querySelectorAll("[data-describedby]").forEach(function (wrap) {
      var input = wrap.querySelector("input");
      if (input) setAttr(input, "aria-describedby", wrap.getAttribute("data-describedby"));
    });
  }

  function repair(root) {
    tieMessages(root);
    dropFocusTraps(root);
    plainOptionGroups(root);
    nameFileInputs(root);
    describeSliders(root);
    describeCharts(root);
  }

  // What a change needs: nothing inside a chart (its plotly_afterplot hook describes it again once it is drawn);
  // a dragged slider's new value, its own text alternative; anything else, the whole page (on the next frame).
  function needsRepair(record) {
    var node = record.target.nodeType === 1 ? record.target : record.target.parentElement;
    if (!node || node.closest(".js-plotly-plot")) return false;
    if (record.type === "attributes" && record.attributeName === "aria-valuenow") {
      var wrap = node.closest("[data-slider-label]");
      if (wrap) {
        describeSlider(wrap);
        return false;
      }
    }
    return true;
  }

  var scheduled = false;
  function schedule(records) {
    if (scheduled || !records.some(needsRepair)) return;
    scheduled = true;
    window.requestAnimationFrame(function () {
      scheduled = false;
      repair(document);
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-focus]");
    if (!link) return;
    var target = document.getElementById(link.getAttribute("data-focus"));
    if (target) {
      event.preventDefault();
      target.scrollIntoView({block: "center"});
      target.focus();
    }
  });

  function start() {
    repair(document);
    new MutationObserver(schedule).observe(document.body, {
      subtree: true, childList: true, attributes: true,
      attributeFilter: ["role", "aria-selected", "aria-valuenow", "tabindex", "disabled"],
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
