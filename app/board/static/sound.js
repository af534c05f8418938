/* Yingji boards: the reminder sounds, made with the Web Audio API (no sound file).
 *
 * Browsers play nothing before the person has clicked on the page: the board shows its
 * 启用提示音 button (#sound-on) until a click has resumed the AudioContext, then 提示音已启用
 * (#sound-state). Every sound asked for is counted, played or not, on the page's body
 * (data-beeps, data-chimes) and in YJ.sound.counts, which is what a test (or a person) checks;
 * YJ.sound.played counts those that the speakers really got.
 *
 * YJ.sound.beep(): two short 880 Hz tones (a task, a clock); YJ.sound.chime(): a rising
 * two-note chime (a report from another bureau has arrived).
 */
(function () {
  "use strict";

  var YJ = window.YJ = window.YJ || {};
  var audio = null;
  var sound = YJ.sound = { counts: { beep: 0, chime: 0 }, played: { beep: 0, chime: 0 } };

  function ready() { return !!audio && audio.state === "running"; }
  sound.ready = ready;

  function showState() {
    var button = document.getElementById("sound-on"), label = document.getElementById("sound-state");
    if (button) button.hidden = ready();
    if (label) label.hidden = !ready();
  }

  // Tones: [start (s), frequency (Hz), length (s)].
  function play(name, attribute, tones) {
    sound.counts[name] += 1;
    document.body.setAttribute(attribute, String(sound.counts[name]));
    if (!ready()) return false;
    var t0 = audio.currentTime;
    tones.forEach(function (tone) {
      var at = tone[0], osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "sine";
      osc.frequency.value = tone[1];
      gain.gain.setValueAtTime(0.0001, t0 + at);
      gain.gain.exponentialRampToValueAtTime(0.35, t0 + at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + at + tone[2]);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t0 + at);
      osc.stop(t0 + at + tone[2] + 0.02);
    });
    sound.played[name] += 1;
    return true;
  }

  sound.beep = function () { return play("beep", "data-beeps", [[0, 880, 0.2], [0.28, 880, 0.2]]); };
  sound.chime = function () { return play("chime", "data-chimes", [[0, 660, 0.25], [0.22, 990, 0.45]]); };

  // Wire the page's 启用提示音 button; a page without one stays silent (and still counts).
  sound.setUp = function () {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    var button = document.getElementById("sound-on");
    if (!button) return;
    if (!Ctx) { button.hidden = true; return; }
    try { audio = new Ctx(); } catch (e) { audio = null; }
    if (audio) audio.addEventListener("statechange", showState);
    button.addEventListener("click", function () {
      if (!audio) { try { audio = new Ctx(); } catch (e) { return; } }
      audio.resume().then(function () { showState(); sound.beep(); });
    });
    showState();
  };
})();
