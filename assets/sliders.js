/* GPP-NMF Studio: the prior designer's number settings, each a log-scale slider paired with a box
 * (components/panels/prior_panel.py registers these as clientside callbacks).
 *
 * sync keeps a slider and its box in step, in the browser (the box feeds the prior specs: a server round trip
 * here would delay every redraw):
 *  - a released slider writes 10^value in its box; a valid typed value moves the slider;
 *  - while the slider is dragged, its value goes to the box (from which the specs and the figures follow) only
 *    while no redraw is in flight: a live redraw without a pile-up of requests. The latest value dragged
 *    meanwhile waits, and relayNext sends it as soon as the figures of the last one are drawn. A redraw that
 *    never comes (an invalid setting draws nothing) frees the relay after STALE_MS.
 *
 * Numbers are written as the boxes show them: 3 significant digits.
 */
(function () {
  "use strict";
  var STALE_MS = 3000;

  function shown(x) {
    return Number(x.toPrecision(3));
  }

  // What a person typed, read as components/views/specs.typed_number reads plain numbers ("0.3", "1e8", "1,5"
  // with a decimal comma, a minus sign "−"): a finite number > 0, or NaN. NaN for anything else, which the server
  // then marks at the box; the slider stays where it is.
  var PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
  function typedPositive(value) {
    var x = NaN;
    if (typeof value === "number") {
      x = value;
    } else if (typeof value === "string") {
      var text = value.trim().replace(/\u2212/g, "-").replace(/ /g, "");
      if (text.split(",").length === 2 && text.indexOf(".") < 0) text = text.replace(",", ".");
      if (PLAIN_NUMBER.test(text)) x = parseFloat(text);
    }
    return isFinite(x) && x > 0 ? x : NaN;
  }

  // [slider, box] to write, null where nothing changes. A moved slider writes 10^value in the box (unless it shows
  // that already: the drag wrote it, and writing it again would redraw again); a valid typed value moves the
  // slider, except a value the dragged slider wrote itself (moving the thumb then would fight the hand).
  function syncedValues(sliderMoved, slider, box, drag) {
    if (sliderMoved) {
      var value = shown(Math.pow(10, slider));
      return [null, typedPositive(box) === value ? null : value];
    }
    var typed = typedPositive(box);
    if (isNaN(typed)) return [null, null];
    if (typeof drag === "number" && isFinite(drag) && shown(Math.pow(10, drag)) === typed) return [null, null];
    return [Math.log10(typed), null];
  }

  function relay() {
    window.gppnmfSliderRelay = window.gppnmfSliderRelay || {busy: false, since: 0, pending: null, sent: 0};
    return window.gppnmfSliderRelay;
  }

  function send(state) {
    state.busy = true;
    state.since = performance.now();
    state.pending = null;
    state.sent += 1;
  }

  // Which of the callback's inputs changed: "value" (the slider, released), "drag_value", "box".
  function changed() {
    return window.dash_clientside.callback_context.triggered.map(function (t) {
      var prop = t.prop_id.slice(t.prop_id.lastIndexOf(".") + 1);
      return t.prop_id.indexOf('"param-slider"') >= 0 ? prop : "box";
    });
  }

  // The box's value for a slider dragged to ``drag`` (log10), or null: nothing new, or a redraw in flight (the
  // value then waits in the relay, for relayNext).
  function relayed(drag, box, boxId) {
    var state = relay();
    if (typeof drag !== "number" || !isFinite(drag) || box === null || box === undefined || box === "") {
      return null;  // nothing to drag yet: the page is still setting up
    }
    var value = shown(Math.pow(10, drag));
    if (value === Number(box)) return null;
    if (state.busy && performance.now() - state.since < STALE_MS) {
      state.pending = {id: boxId, value: value};
      return null;
    }
    send(state);
    return value;
  }

  window.gppnmfSliders = {typedPositive: typedPositive, syncedValues: syncedValues};  // for the browser tests

  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.gppnmfSliders = {
    sync: function (slider, drag, box) {
      var dc = window.dash_clientside, inputs = changed(), out;
      if (inputs.indexOf("value") >= 0) out = syncedValues(true, slider, box, drag);
      else if (inputs.indexOf("box") >= 0) out = syncedValues(false, slider, box, drag);
      else out = [null, relayed(drag, box, dc.callback_context.outputs_list[1].id)];
      return out.map(function (v) { return v === null ? dc.no_update : v; });
    },

    relayNext: function () {
      var state = relay(), dc = window.dash_clientside;
      state.busy = false;
      if (state.pending) {
        var next = state.pending;
        send(state);
        dc.set_props(next.id, {value: next.value});
      }
      return dc.no_update;
    },
  };
})();
