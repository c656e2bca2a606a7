// resolve web: the timed training tasks of the programme (left/right judgement, tactile).
// The server draws each block's stimuli (POST start) and scores the answers (POST submit);
// this script only shows the stimuli and records the answers and reaction times.
//
// Left/right judgement: every image of the block is fetched and decoded before the first
// is shown; the next image replaces the previous one in the same frame as the answer, and
// its reaction time runs from the first animation frame that shows it (performance.now()
// inside requestAnimationFrame) to the answer (keyboard: ArrowLeft/L, ArrowRight/R; touch
// or mouse: the two buttons, on pointerdown). For benchmarks, window.resolveProgramme keeps,
// per answer, the time from the input event (event.timeStamp) to the first animation frame
// that shows the next image (latencies) and to the frame after it, by which the image has
// been painted (painted).
(function () {
  "use strict";

  var shared = { latencies: [], painted: [] };
  window.resolveProgramme = shared;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function msg(root, name, values) {
    return fill(root.getAttribute("data-msg-" + name) || "", values || {});
  }

  function post(root, url, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var csrf = root.getAttribute("data-csrf");
    if (csrf) { headers["X-CSRF-Token"] = csrf; }
    return fetch(url, {
      method: "POST",
      headers: headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store"
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var detail = data && data.detail;
          if (typeof detail !== "string") { detail = msg(root, "failed", {}); }
          throw new Error(detail);
        }
        return data;
      });
    });
  }

  function show(root, phase) {
    root.querySelectorAll("[data-phase]").forEach(function (el) {
      el.hidden = el.getAttribute("data-phase") !== phase;
    });
    root.setAttribute("data-state", phase);
  }

  function fail(root, error) {
    var box = root.querySelector(".task-error");
    box.textContent = error.message || String(error);
    box.hidden = false;
    show(root, "intro");
  }

  function percent(x) { return x === null || x === undefined ? "-" : Math.round(x * 100); }
  function seconds(x) { return x === null || x === undefined ? "-" : (x / 1000).toFixed(2); }

  function showResult(root, outcome) {
    var box = root.querySelector("[data-phase=result]");
    var s = outcome.score || {};
    box.querySelector(".result-score").textContent = msg(root, "score", {
      correct: s.n_correct, n: s.n_trials, accuracy: percent(s.accuracy)
    });
    var extra = box.querySelector(".result-extra");
    if (root.classList.contains("lrj-task")) {
      extra.textContent = msg(root, "rt", { rt: seconds(s.median_rt_ms) });
    } else {
      extra.textContent = msg(root, "distance", {
        cm: s.mean_error_cm === null || s.mean_error_cm === undefined ? "-" :
          s.mean_error_cm.toFixed(1)
      });
    }
    var d = outcome.decision || {};
    box.querySelector(".result-next").textContent = msg(root, "next-" + (d.action || "hold"), {
      level: d.to_level, from: d.from_level
    });
    show(root, "result");
    box.focus();
  }

  // ------------------------------------------------------------------ left/right judgement
  function lrj(root) {
    var stage = root.querySelector(".lrj-stage");
    var counter = root.querySelector(".lrj-count");
    var progress = root.querySelector(".lrj-progress");
    var block = null, images = [], trials = [], index = -1, shownAt = null, timer = null;
    var running = false, pendingKey = null;

    function preload(stimuli) {
      var done = 0;
      progress.textContent = msg(root, "loading", { n: 0, total: stimuli.length });
      return Promise.all(stimuli.map(function (s, k) {
        var img = new Image();
        img.alt = msg(root, "image-alt", { n: k + 1, total: stimuli.length });
        img.className = "lrj-image";
        img.decoding = "sync";
        img.src = s.url;
        return img.decode().then(function () {
          done += 1;
          progress.textContent = msg(root, "loading", { n: done, total: stimuli.length });
          return img;
        });
      }));
    }

    function present(k) {
      index = k;
      shownAt = null;
      stage.replaceChildren(images[k]);
      window.requestAnimationFrame(function () {
        if (index !== k) { return; }
        shownAt = performance.now();
        // the counter changes in the frame that shows the image: answers count from here
        counter.textContent = msg(root, "count", { n: k + 1, total: images.length });
        if (pendingKey !== null) {
          var input = pendingKey;
          shared.latencies.push(shownAt - input);
          window.requestAnimationFrame(function () {
            shared.painted.push(performance.now() - input);
          });
          pendingKey = null;
        }
        timer = window.setTimeout(function () { answer(null, null); }, block.time_limit_s * 1000);
      });
    }

    function answer(side, at, inputAt) {
      if (!running || shownAt === null) { return; }
      window.clearTimeout(timer);
      var when = Math.min(at, inputAt || at); // the input event's time when the browser gives it
      var rt = side === null ? null : Math.max(0.001, when - shownAt);
      trials.push({ file: block.stimuli[index].file, response: side, rt_ms: rt });
      if (index + 1 < images.length) {
        pendingKey = side === null ? null : when;
        present(index + 1);
      } else {
        finish();
      }
    }

    function finish() {
      running = false;
      stage.replaceChildren();
      show(root, "sending");
      post(root, root.getAttribute("data-submit"), { block_id: block.block_id, trials: trials })
        .then(function (outcome) { showResult(root, outcome); })
        .catch(function (error) { fail(root, error); });
    }

    function begin() {
      root.querySelector(".task-error").hidden = true;
      show(root, "loading");
      post(root, root.getAttribute("data-start"), { task: "lrj" })
        .then(function (started) {
          block = started;
          trials = [];
          return preload(started.stimuli);
        })
        .then(function (loaded) {
          images = loaded;
          show(root, "run");
          running = true;
          root.querySelector("[data-phase=run]").focus({ preventScroll: true });
          present(0);
        })
        .catch(function (error) { fail(root, error); });
    }

    var keys = { ArrowLeft: "left", l: "left", L: "left", ArrowRight: "right", r: "right",
                 R: "right" };
    document.addEventListener("keydown", function (event) {
      if (!running || event.repeat || event.altKey || event.ctrlKey || event.metaKey) { return; }
      var side = keys[event.key];
      if (!side) { return; }
      var at = performance.now();
      event.preventDefault();
      answer(side, at, event.timeStamp);
    });
    root.querySelectorAll(".lrj-answers button").forEach(function (button) {
      var side = button.getAttribute("data-answer");
      button.addEventListener("pointerdown", function (event) {
        var at = performance.now();
        event.preventDefault();
        answer(side, at, event.timeStamp);
      });
      button.addEventListener("click", function (event) {
        if (event.detail === 0) { answer(side, performance.now()); } // keyboard activation
      });
    });
    root.querySelectorAll(".task-begin").forEach(function (button) {
      button.addEventListener("click", begin);
    });
  }

  // ------------------------------------------------------------------ tactile
  function tactile(root) {
    var block = null, trials = [], index = 0, zone = null, kind = null;
    var where = root.querySelector(".tac-where");
    var what = root.querySelector(".tac-what");
    var counter = root.querySelectorAll(".tac-count");
    var grid = root.querySelector(".tac-grid");
    var mapGrid = root.querySelector(".tac-map");
    var next = root.querySelector(".tac-next");

    function build(target, rows, cols, buttons) {
      target.replaceChildren();
      target.className = target.className.replace(/\bcols-\d+\b/g, "").trim() + " cols-" + cols;
      for (var r = 0; r < rows; r += 1) {
        for (var c = 0; c < cols; c += 1) {
          var id = "ABCDEFGHIJ".charAt(r) + (c + 1);
          var el = document.createElement(buttons ? "button" : "span");
          el.textContent = id;
          el.setAttribute("data-zone", id);
          if (buttons) {
            el.type = "button";
            el.setAttribute("aria-pressed", "false");
            el.setAttribute("aria-label", msg(root, "zone", { zone: id }));
          }
          target.appendChild(el);
        }
      }
    }

    function choose(group, value) {
      root.querySelectorAll(group).forEach(function (b) {
        var on = (b.getAttribute("data-zone") || b.getAttribute("data-kind")) === value;
        b.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }

    function updateNext() { next.disabled = zone === null || kind === null; }

    function touchPhase() {
      var s = block.stimuli[index];
      counter.forEach(function (el) {
        el.textContent = msg(root, "count", { n: index + 1, total: block.stimuli.length });
      });
      where.textContent = s.zone;
      what.textContent = msg(root, "kind-" + s.stimulus, {}) || s.stimulus;
      mapGrid.querySelectorAll("[data-zone]").forEach(function (el) {
        el.classList.toggle("target", el.getAttribute("data-zone") === s.zone);
      });
      show(root, "touch");
      root.querySelector(".tac-touched").focus({ preventScroll: true });
    }

    function answerPhase() {
      zone = null;
      kind = null;
      choose(".tac-grid button", null);
      choose(".tac-kind button", null);
      updateNext();
      show(root, "answer");
      root.querySelector(".tac-question").focus({ preventScroll: true });
    }

    function record() {
      // "Not sure" records whatever was chosen so far (an unanswered part stays null)
      var s = block.stimuli[index];
      trials.push({ zone: s.zone, stimulus: s.stimulus, response_zone: zone,
                    response_stimulus: kind });
      index += 1;
      if (index < block.stimuli.length) { touchPhase(); } else { finish(); }
    }

    function finish() {
      show(root, "sending");
      post(root, root.getAttribute("data-submit"), { block_id: block.block_id, trials: trials })
        .then(function (outcome) { showResult(root, outcome); })
        .catch(function (error) { fail(root, error); });
    }

    function begin() {
      root.querySelector(".task-error").hidden = true;
      show(root, "loading");
      post(root, root.getAttribute("data-start"), { task: "tactile" })
        .then(function (started) {
          block = started;
          trials = [];
          index = 0;
          build(grid, started.grid.rows, started.grid.cols, true);
          build(mapGrid, started.grid.rows, started.grid.cols, false);
          touchPhase();
        })
        .catch(function (error) { fail(root, error); });
    }

    grid.addEventListener("click", function (event) {
      var b = event.target.closest("button[data-zone]");
      if (!b) { return; }
      zone = b.getAttribute("data-zone");
      choose(".tac-grid button", zone);
      updateNext();
    });
    root.querySelectorAll(".tac-kind button").forEach(function (b) {
      b.addEventListener("click", function () {
        kind = b.getAttribute("data-kind");
        choose(".tac-kind button", kind);
        updateNext();
      });
    });
    root.querySelector(".tac-touched").addEventListener("click", answerPhase);
    next.addEventListener("click", function () { if (!next.disabled) { record(); } });
    root.querySelector(".tac-unsure").addEventListener("click", record);
    root.querySelectorAll(".task-begin").forEach(function (button) {
      button.addEventListener("click", begin);
    });
  }

  function ready() {
    document.querySelectorAll(".lrj-task").forEach(function (root) {
      root.querySelector("[data-phase=intro]").hidden = false;
      lrj(root);
    });
    document.querySelectorAll(".tactile-task").forEach(function (root) {
      root.querySelector("[data-phase=intro]").hidden = false;
      tactile(root);
    });
    document.querySelectorAll(".task-nojs").forEach(function (el) { el.hidden = true; });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();

// ------------------------------------------------------------------ graphaesthesia
// The screen shows the partner (or clinician) the symbol to draw on the back and which way
// up (the symbol is turned on screen as it is to be drawn); "Drawn" hides it and the
// patient types what they felt. The server drew the symbols and scores the answers.
(function () {
  "use strict";

  function msg(root, name, values) {
    var text = root.getAttribute("data-msg-" + name) || "";
    return text.replace(/\{(\w+)\}/g, function (whole, key) {
      return values && Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  }

  function post(root, url, body) {
    var headers = { "Content-Type": "application/json", "Accept": "application/json" };
    var csrf = root.getAttribute("data-csrf");
    if (csrf) { headers["X-CSRF-Token"] = csrf; }
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body),
                        credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            throw new Error(typeof data.detail === "string" ? data.detail : msg(root, "failed"));
          }
          return data;
        });
      });
  }

  function show(root, phase) {
    root.querySelectorAll("[data-phase]").forEach(function (el) {
      el.hidden = el.getAttribute("data-phase") !== phase;
    });
    root.setAttribute("data-state", phase);
  }

  function graph(root) {
    var block = null, trials = [], index = 0;
    var symbol = root.querySelector(".graph-symbol");
    var orient = root.querySelector(".graph-orient");
    var input = root.querySelector(".graph-answer");

    function fail(error) {
      var box = root.querySelector(".task-error");
      box.textContent = error.message || String(error);
      box.hidden = false;
      show(root, "intro");
    }

    function count() {
      root.querySelectorAll(".graph-count").forEach(function (el) {
        el.textContent = msg(root, "count", { n: index + 1, total: block.stimuli.length });
      });
    }

    function drawPhase() {
      var s = block.stimuli[index];
      count();
      symbol.textContent = s.symbol;
      symbol.className = "graph-symbol orient-" + s.orientation;
      orient.textContent = msg(root, "orient-" + s.orientation);
      show(root, "draw");
      root.querySelector(".graph-drawn").focus({ preventScroll: true });
    }

    function answerPhase() {
      symbol.textContent = "";
      input.value = "";
      show(root, "answer");
      input.focus({ preventScroll: true });
    }

    function record(answer) {
      var s = block.stimuli[index];
      trials.push({ symbol: s.symbol, orientation: s.orientation, response: answer });
      index += 1;
      if (index < block.stimuli.length) { drawPhase(); } else { finish(); }
    }

    function finish() {
      show(root, "sending");
      post(root, root.getAttribute("data-submit"), { block_id: block.block_id, trials: trials })
        .then(result)
        .catch(fail);
    }

    function result(outcome) {
      var box = root.querySelector("[data-phase=result]");
      var s = outcome.score || {};
      var m = outcome.measures || {};
      box.querySelector(".result-score").textContent = msg(root, "score", {
        correct: s.n_correct, n: s.n_trials, accuracy: Math.round((s.accuracy || 0) * 100)
      });
      box.querySelector(".result-extra").textContent = m.character_accuracy === null ||
        m.character_accuracy === undefined ? "" :
        msg(root, "characters", { pct: Math.round(m.character_accuracy * 100) });
      var d = outcome.decision || {};
      box.querySelector(".result-next").textContent = msg(root, "next-" + (d.action || "hold"), {
        level: d.to_level, from: d.from_level
      });
      show(root, "result");
      box.focus();
    }

    function begin() {
      root.querySelector(".task-error").hidden = true;
      show(root, "loading");
      var body = { task: "graphaesthesia" };
      if (root.getAttribute("data-mode")) { body.mode = root.getAttribute("data-mode"); }
      post(root, root.getAttribute("data-start"), body)
        .then(function (started) {
          block = started;
          trials = [];
          index = 0;
          drawPhase();
        })
        .catch(fail);
    }

    root.querySelector(".graph-drawn").addEventListener("click", answerPhase);
    root.querySelector(".graph-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var answer = input.value.trim();
      if (answer) { record(answer); } else { input.focus(); }
    });
    root.querySelector(".graph-unsure").addEventListener("click", function () { record(null); });
    root.querySelectorAll(".task-begin").forEach(function (button) {
      button.addEventListener("click", begin);
    });
  }

  function ready() {
    document.querySelectorAll(".graph-task").forEach(function (root) {
      root.querySelector("[data-phase=intro]").hidden = false;
      root.querySelector(".task-nojs").hidden = true;
      graph(root);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
