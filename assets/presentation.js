/* GPP-NMF Studio: presentation mode, and titles that fit their chart.
 *
 * The switch (components/theme.py) calls setPresentation with the style (theme.PRESENTATION); every chart on
 * the page, and every chart drawn later, gets large fonts, thick lines and more height; switching off restores
 * what each figure had. The page's own text grows by CSS (body.presentation in style.css).
 *
 * A chart title wider than its chart (a phone, a narrow column, presentation fonts) is broken into lines at
 * spaces, and the top margin grows to hold them; when the chart widens again it goes back to one line. */
(function () {
  "use strict";
  var style = null;  // the active presentation style, or null

  function axisKeys(gd) {  // the drawn axes (a subplot's shared or matching axis may have no fonts of its own)
    var full = gd._fullLayout || {};
    return Object.keys(full).filter(function (k) { return /^[xy]axis\d*$/.test(k) && full[k] && full[k].tickfont; });
  }

  function apply(gd) {
    if (!gd.layout || !gd._fullLayout || !gd.data || typeof window.Plotly === "undefined") return;
    var marked = gd.layout.meta && gd.layout.meta.presentation;
    if (style && !marked) {
      var full = gd._fullLayout, undo = {layout: {}, traces: {}};
      var layout = {"meta.presentation": true, "font.size": style.font, "legend.font.size": style.font,
                    "title.font.size": style.title, "height": Math.round(full.height * style.height_scale),
                    "margin.t": full.margin.t + (style.title - 14), "margin.b": full.margin.b + 16,
                    // a new height would pin the width (plotly turns autosize off): keep the width following
                    // the card, as the figures do
                    "width": null, "autosize": true};
      axisKeys(gd).forEach(function (k) {
        layout[k + ".tickfont.size"] = style.font;
        layout[k + ".title.font.size"] = style.font;
        layout[k + ".automargin"] = true;
        undo.layout[k + ".tickfont.size"] = full[k].tickfont.size;
        undo.layout[k + ".title.font.size"] = full[k].title && full[k].title.font ? full[k].title.font.size : null;
        undo.layout[k + ".automargin"] = gd.layout[k] ? gd.layout[k].automargin : null;
      });
      (gd.layout.annotations || []).forEach(function (a, i) {
        layout["annotations[" + i + "].font.size"] = Math.max(style.annotation, (a.font && a.font.size) || 0);
        undo.layout["annotations[" + i + "].font.size"] = a.font ? a.font.size : null;
      });
      ["font.size", "legend.font.size", "title.font.size", "height", "margin.t", "margin.b"].forEach(function (k) {
        undo.layout[k] = k.split(".").reduce(function (o, p) { return o == null ? null : o[p]; }, gd.layout);
      });
      undo.layout["meta.presentation"] = null;
      undo.layout.width = null;
      undo.layout.autosize = true;
      var widths = gd.data.map(function (t, i) {
        var w = gd._fullData[i] && gd._fullData[i].line ? gd._fullData[i].line.width : null;
        return w == null ? null : Math.max(w * style.line_scale, style.line_min);
      });
      undo.widths = gd.data.map(function (t) { return t.line ? t.line.width : null; });
      gd.__presentationUndo = undo;
      window.Plotly.update(gd, {"line.width": widths}, layout);
    } else if (!style && marked && gd.__presentationUndo) {
      var back = gd.__presentationUndo;
      gd.__presentationUndo = null;
      window.Plotly.update(gd, {"line.width": back.widths}, back.layout);
    }
  }

  var ruler = document.createElement("canvas").getContext("2d");

  function wrapWords(text, font, room) {
    // Greedy, by measured width (the same answer every time: no back and forth between wrappings).
    ruler.font = font;
    var lines = [], line = "";
    // "X is 397 × 512" never breaks inside "397 × 512": a size reads as one word
    text.replace(/ × /g, "\u0000×\u0000").split(" ").map(function (w) {
      return w.replace(/\u0000/g, " ");
    }).forEach(function (word) {
      var longer = line ? line + " " + word : word;
      if (line && ruler.measureText(longer).width > room) { lines.push(line); line = word; }
      else line = longer;
    });
    if (line) lines.push(line);
    return lines;
  }

  function fitTitle(gd) {
    var title = gd.layout && gd.layout.title, full = gd._fullLayout;
    if (!title || typeof title.text !== "string" || !full || !full.title) return;
    if (title.text !== gd.__wrappedTitle) {  // a new figure: its own title, no extra margin yet
      gd.__title = title.text;
      gd.__titleExtra = 0;
      gd.__titlePad = full.title.pad ? full.title.pad.t : 0;
    }
    if (gd.__title.indexOf("<br>") >= 0) return;
    var size = full.title.font.size || 14;
    var font = size + "px " + (full.title.font.family || full.font.family);
    var lines = wrapWords(gd.__title, font, full.width - 24);
    var wrapped = lines.join("<br>");
    if (wrapped === title.text) return;
    // the extra lines, and once more the font size of room: a wrapped title's last line would touch what sits on
    // the plot's top edge (the names above side-by-side maps)
    var extra = lines.length > 1 ? Math.round((lines.length - 1) * size * 1.3 + size) : 0;
    var margin = full.margin.t - (gd.__titleExtra || 0) + extra;
    gd.__wrappedTitle = wrapped;
    gd.__titleExtra = extra;
    // plotly centres a title's extra lines on where one line would be: push it down by half of them, so the
    // first line stays below the mode bar's band
    var pad = gd.__titlePad + Math.ceil(extra / 2);
    var layout = Object.assign({}, gd.layout, {
      title: Object.assign({}, title, {text: wrapped, pad: Object.assign({}, title.pad, {t: pad})}),
      margin: Object.assign({}, gd.layout.margin, {t: margin}),
    });
    // Plotly.react, not relayout: dcc.Graph copies a relayout back into its figure and then plots that figure
    // again, a second full redraw after every new figure whose title wraps (on a phone, every slider move)
    window.Plotly.react(gd, gd.data, layout);
  }

  function refit(gd) {
    apply(gd);
    fitTitle(gd);
  }

  function applyAll() {
    document.querySelectorAll(".js-plotly-plot").forEach(function (gd) {
      if (!gd.__presentationHooked && typeof gd.on === "function") {
        gd.__presentationHooked = true;
        gd.on("plotly_afterplot", function () { window.requestAnimationFrame(function () { refit(gd); }); });
        refit(gd);
      } else {
        apply(gd);
      }
    });
  }

  new MutationObserver(applyAll).observe(document.documentElement, {subtree: true, childList: true});

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gppnmf = Object.assign(window.dash_clientside.gppnmf || {}, {
    setPresentation: function (value, presentationStyle) {
      var on = Array.isArray(value) && value.indexOf("on") >= 0;
      style = on ? presentationStyle : null;
      document.body.classList.toggle("presentation", on);
      applyAll();
      return on;
    },
  });
})();
