#!/usr/bin/env python3
"""Regenerate ``bench/demo_data/annotations.json`` (COCO instances format).

What it does
------------
For every object in the bundled demo photos (``bench/demo_data/images/``)
this script builds a segmentation mask with OpenCV's GrabCut, initialised
from *hand-chosen* hints written down in ``OBJECTS`` below:

* rough hand-traced outline polygons / thick polylines of the object; the
  pixels well inside them are fixed foreground, a band of ``band`` pixels on
  either side of the traced outline is left to GrabCut to decide, and
  everything farther away is fixed background;
* optional extra hand-placed foreground / background strokes and polygons
  that correct places where GrabCut alone goes wrong.

The GrabCut result is cleaned up (small morphological open/close, keep the
largest connected component, fill holes -- as COCO's traced outlines do, so the background seen between
the motorcycles' fork tubes counts as motorcycle; the dining table keeps the
hole where the saucer is),
masks of objects in front are subtracted where needed (e.g. the spoon from the
cup), and the outline is converted to COCO polygons with ``cv2.findContours``
plus a light ``cv2.approxPolyDP`` (epsilon 1 px) simplification.  Contours
are traced on a 4x nearest-neighbour upsampled mask so that the polygon runs
along pixel *edges* (pycocotools' convention) rather than through pixel
centres.  A hole is joined to its outer ring by a zero-width slit, so each
connected part is one polygon that pycocotools decodes with the hole intact.  ``area`` and ``bbox`` are computed from the mask that pycocotools
decodes from the written polygons, so they agree exactly with ``annToMask``.

The hints were tuned by looking at overlays of every mask on its photo (see
``--views``) until each mask followed its object's outline.

Requirements
------------
This is a developer-only tool.  It needs ``opencv-python-headless``,
``numpy`` and ``pycocotools``; none of these is a dependency of the
``bench`` package, and the package never imports this script::

    python -m venv /tmp/annot
    /tmp/annot/bin/pip install opencv-python-headless numpy pycocotools

Usage
-----
From the repository root::

    /tmp/annot/bin/python tools/make_demo_annotations.py            # write annotations.json
    /tmp/annot/bin/python tools/make_demo_annotations.py --views /tmp/annot_views
    /tmp/annot/bin/python tools/make_demo_annotations.py --out /tmp/check.json

The committed ``bench/demo_data/annotations.json`` is the source of truth;
re-running this script is only needed when the hints are changed (GrabCut
results may differ in detail between OpenCV versions).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "demo_data"
IMAGES = DATA / "images"

# Image order defines the image ids (1..N).
IMAGE_FILES = [
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "motorcycle_right.png",
    "grace_hopper.jpg",
]

# Real COCO 2017 category ids / names / supercategories (only those used).
COCO_CATEGORIES = {
    "person": (1, "person"),
    "motorcycle": (4, "vehicle"),
    "cat": (17, "animal"),
    "cup": (47, "kitchen"),
    "spoon": (50, "kitchen"),
    "dining table": (67, "furniture"),
}

LICENSES = [
    {"id": 1, "name": "Public Domain", "url": ""},
    {"id": 2, "name": "CC0 1.0 Universal", "url": "https://creativecommons.org/publicdomain/zero/1.0/"},
    {"id": 3, "name": "Middlebury 2014 stereo dataset (Scharstein et al., GCPR 2014); "
                      "no licence stated by scikit-image, see README.md",
     "url": "https://vision.middlebury.edu/stereo/data/scenes2014/"},
]
IMAGE_LICENSE = {
    "astronaut.png": 1,
    "chelsea.png": 2,
    "coffee.png": 2,
    "rocket.jpg": 1,
    "motorcycle_left.png": 3,
    "motorcycle_right.png": 3,
    "grace_hopper.jpg": 1,
}


# --------------------------------------------------------------------------
# Hint shapes.  Coordinates are (x, y) in pixels of the original image.
# --------------------------------------------------------------------------
def P(pts, band=6):
    """Hand-traced outline polygon; GrabCut decides within +-band px of it."""
    return ("poly", pts, band)


def L(pts, width, band=3):
    """Thick polyline (thin parts: stems, handles, rods)."""
    return ("line", pts, width, band)


def E(cx, cy, ax, ay, angle=0.0, step=6):
    """Hand-chosen ellipse, as a polygon."""
    pts = cv2.ellipse2Poly((int(cx), int(cy)), (int(ax), int(ay)), int(angle), 0, 360, step)
    return [tuple(map(int, p)) for p in pts]


# Each object: file, category (None = helper mask, not exported), name,
# shapes (outline hints), fg/bg (definite corrections, polygons or lines),
# subtract (names of objects removed from this mask), fill_holes, iters.
OBJECTS: list[dict] = [
    # ------------------------------------------------------------ astronaut
    # Eileen Collins; the helmet she holds in front of her is not part of
    # the person mask (it is not a COCO category either).
    dict(file="astronaut.png", name="astronaut", category="person", shapes=[
        # hair and face
        P([(154, 71), (161, 50), (175, 37), (189, 32), (200, 23), (218, 17), (236, 15),
           (254, 17), (271, 27), (286, 39), (295, 54), (300, 71), (300, 89), (295, 107),
           (286, 121), (279, 129), (270, 132), (268, 145), (264, 160), (184, 160), (184, 140),
           (184, 125), (177, 123), (170, 120), (159, 104)], band=4),
        # suit
        P([(262, 163), (275, 180), (289, 200), (300, 221), (305, 243), (320, 240),
           (337, 250), (350, 281), (359, 325), (359, 340), (337, 353), (312, 369), (294, 400),
           (284, 437), (280, 475), (278, 515), (22, 515), (19, 406), (25, 325), (40, 275),
           (62, 250), (94, 225), (113, 206), (116, 192), (121, 186), (136, 164), (157, 152),
           (182, 148), (207, 150), (236, 157), (257, 168)], band=6),
    ], fg=[
        # the lavender neck ring is easily mistaken for the grey backdrop
        L([(185, 150), (172, 151), (156, 153), (144, 159), (135, 167), (130, 175), (127, 183),
           (125, 191)], 3),
        L([(253, 177), (264, 182), (275, 190), (287, 205), (295, 219), (299, 233)], 3),
    ]),
    # ------------------------------------------------------- grace hopper
    dict(file="grace_hopper.jpg", name="hopper", category="person", shapes=[
        P([(236, 25), (286, 29), (300, 32), (343, 57), (354, 79), (368, 100), (371, 143),
           (371, 164), (375, 200), (364, 236), (357, 271), (350, 300), (336, 314), (364, 343),
           (429, 371), (471, 389), (493, 407), (507, 429), (515, 440), (515, 605), (14, 605),
           (21, 464), (29, 414), (43, 386), (71, 371), (129, 357), (164, 343), (193, 314),
           (175, 286), (168, 257), (161, 214), (161, 179), (154, 150), (150, 136), (154, 100),
           (171, 79), (182, 57), (214, 29)], band=8),
    ]),
    # ---------------------------------------------------------------- cat
    dict(file="chelsea.png", name="cat", category="cat", smooth=3, shapes=[
        P([(35, -3), (33, 40), (30, 70), (20, 95), (8, 105), (-3, 115), (-3, 303), (325, 303),
           (328, 270), (332, 240), (338, 210), (344, 185), (350, 160), (354, 135), (358, 110),
           (360, 85), (364, 62), (374, 40), (386, 18), (398, -3)], band=10),
    ]),
    # ------------------------------------------------------------- coffee
    # The spoon leans against the cup: its handle end is visible above the
    # saucer, the middle of the handle is hidden behind the cup.
    dict(file="coffee.png", name="spoon", category="spoon", smooth=0, min_component=20,
         keep_largest=False, shapes=[
        P([(376, 237), (385, 237), (392, 245), (400, 257), (405, 272), (404, 290), (400, 305),
           (392, 316), (380, 322), (365, 325), (350, 324), (337, 316), (329, 302), (326, 285),
           (329, 272), (336, 262), (347, 254), (360, 245), (370, 240)], band=3),
        L([(389, 192), (386, 205), (383, 220), (380, 236)], 5, band=2),
        P([(402, 67), (417, 67), (423, 77), (422, 86), (418, 97), (416, 105), (411, 119),
           (410, 131), (408, 131), (407, 105), (406, 91), (402, 74)], band=2),
    ], fg=[L([(412, 72), (413, 100), (409, 125)], 2), L([(388, 196), (381, 233)], 2)]),
    dict(file="coffee.png", name="cup", category="cup", subtract=["spoon"], shapes=[
        P([(173, 94), (178, 70), (192, 50), (215, 32), (250, 21), (289, 17), (330, 21),
           (365, 33), (390, 50), (405, 72), (411, 95), (409, 120), (404, 145), (397, 172),
           (388, 192), (377, 212), (365, 231), (352, 246), (335, 262), (326, 276), (309, 284),
           (280, 285), (262, 283), (250, 288), (240, 298), (226, 307), (210, 304), (199, 290),
           (197, 270), (203, 253), (216, 231), (213, 226), (203, 211), (194, 194), (187, 174),
           (180, 154), (176, 137), (174, 126), (173, 109)], band=6),
    ], fg=[
        # the dark-red side of the cup body against the red saucer
        L([(179, 137), (184, 154), (191, 173), (198, 192), (207, 208), (216, 222)], 3),
    ]),
    dict(file="coffee.png", name="saucer", category=None, shapes=[
        P([(175, 73), (250, 60), (330, 68), (400, 92), (418, 108), (434, 115), (449, 133),
           (461, 154), (470, 177), (476, 204), (478, 231), (478, 258), (471, 300), (461, 321),
           (443, 343), (418, 361), (389, 375), (354, 384), (329, 385), (300, 387), (272, 387),
           (250, 387), (225, 385), (203, 382), (183, 377), (165, 370), (148, 361), (135, 352),
           (122, 342), (110, 330), (98, 315), (90, 303), (83, 288), (80, 260), (78, 223), (77, 196), (78, 177), (82, 162),
           (90, 142), (102, 123), (117, 104), (136, 88), (155, 79)], band=3),
    ]),
    dict(file="coffee.png", name="table", category="dining table", fill_holes=False,
         subtract=["saucer", "cup", "spoon"], shapes=[
        P([(-5, 65), (200, -5), (606, -5), (606, 405), (-5, 405)], band=8),
    ]),
    # ---------------------------------------------------------- motorcycle
    # See-through gaps (shelf seen between handlebar and tank, and between
    # the fork tubes) stay holes; only small holes are filled.
    dict(file="motorcycle_left.png", name="motorcycle", category="motorcycle",
         shapes=[
        # tail light, grab rail, seat, tank, engine, kickstand, rear wheel
        P([(90, 203), (96, 199), (123, 199), (136, 190), (138, 168), (141, 153), (153, 148),
           (165, 152), (171, 161), (188, 163), (218, 168), (247, 174), (276, 184), (301, 192),
           (330, 197), (346, 190), (383, 175), (425, 163), (458, 165), (475, 172), (486, 200),
           (486, 222), (478, 232), (474, 245), (479, 276), (479, 297), (476, 330), (470, 351),
           (460, 367), (424, 377), (370, 377), (350, 375), (345, 368), (327, 368), (322, 363),
           (280, 357),
           (276, 364), (266, 376), (254, 384), (240, 393), (223, 399), (206, 401), (186, 401),
           (163, 391), (149, 381), (137, 368), (126, 352), (120, 330), (120, 305), (126, 280), (136, 262), (142, 255), (125, 250),
           (113, 246), (112, 259), (100, 259), (98, 236), (93, 224), (90, 212)], band=5),
        # kickstand
        P([(327, 368), (345, 368), (344, 385), (337, 392), (335, 430), (340, 432), (340, 437),
           (323, 437), (326, 430), (328, 392)], band=2),
        # front: triple clamp, fork tubes, fender + front wheel
        P([(490, 180), (545, 183), (552, 200), (548, 225), (530, 225), (505, 215), (490, 200)],
          band=5),
        L([(488, 186), (507, 243), (523, 277), (531, 290), (576, 380)], 11),
        L([(499, 232), (503, 250), (506, 270), (507, 290), (510, 310)], 3, band=1),  # brake hose
        L([(545, 192), (578, 263)], 8),
        P([(505, 297), (515, 280), (537, 270), (570, 263), (603, 270), (628, 284), (643, 301),
           (653, 313), (670, 334), (680, 359), (684, 388), (683, 404), (682, 415), (677, 430),
           (667, 442), (655, 450), (640, 454), (625, 453), (610, 450), (597, 446), (585, 440),
           (572, 432), (560, 424), (545, 410), (526, 380), (516, 347), (512, 330), (506, 325)],
          band=4),
        # headlight, instruments, turn signals
        P(E(535, 156, 29, 33), band=4),
        P([(467, 125), (483, 115), (504, 112), (517, 121), (517, 137), (496, 150), (473, 150),
           (467, 137)], band=3),
        P(E(573, 130, 12, 12), band=3),
        L([(560, 135), (568, 132)], 5),
        P(E(475, 188, 13, 14), band=3),
        # handlebar: left grip, bar, clutch lever, right end with brake lever
        L([(358, 170), (392, 143)], 11),
        P([(384, 138), (396, 128), (410, 121), (422, 122), (426, 129), (419, 135), (413, 144),
           (407, 156), (396, 156), (385, 150)], band=2),
        L([(405, 128), (431, 132), (457, 144), (470, 142)], 6, band=2),
        L([(412, 149), (399, 154), (391, 163), (387, 176), (385, 194)], 4, band=1),
        P([(500, 75), (512, 75), (530, 90), (546, 98), (546, 104), (528, 104), (520, 112),
           (505, 112), (498, 95)], band=3),
        # mirrors (left: head + stem; right: head + stem)
        P([(331, 125), (362, 110), (375, 117), (373, 125), (340, 140)], band=3),
        L([(373, 121), (425, 127)], 3, band=2),
        P([(513, 15), (519, 15), (520, 20), (512, 33), (506, 44), (502, 48), (501, 44),
           (506, 30)], band=1),
        P([(504, 37), (516, 37), (518, 44), (510, 46)], band=1),
        L([(515, 44), (509, 56), (505, 70), (501, 82)], 3, band=1),
    ], bg=[
        # shelf seen between the left grip and the tank
        P([(402, 160), (414, 152), (445, 148), (445, 157), (425, 161), (405, 165)]),
        # red crate seen between the fork tubes, under the triple clamp
        P([(530, 222), (550, 218), (556, 240), (552, 255), (535, 255), (525, 240)]),
    ]),
    # Right view of the stereo pair.  The hints were started from the left
    # view's hints shifted by a plane fitted to the ground-truth disparity
    # (x_right = x_left - d, d ~ 44..58 px) and then re-tuned on this image.
    dict(file="motorcycle_right.png", name="motorcycle", category="motorcycle",
         shapes=[
        P([(45, 203), (51, 199), (77, 199), (89, 190), (91, 168), (93, 153), (105, 148),
           (117, 152), (123, 161), (139, 163), (169, 168), (197, 174), (226, 184), (251, 192),
           (279, 197), (295, 190), (330, 175), (371, 163), (403, 165), (420, 172), (432, 200),
           (432, 222), (425, 232), (421, 245), (427, 276), (427, 297), (425, 330), (420, 351),
           (411, 367), (376, 377), (323, 377), (304, 375), (299, 368), (281, 368), (276, 363),
           (235, 357), (231, 364), (222, 376), (210, 384), (197, 393), (180, 399), (164, 401),
           (144, 401), (121, 391), (108, 381), (95, 368), (84, 352), (78, 330), (77, 305),
           (82, 280), (91, 262), (97, 255), (80, 250), (69, 246), (68, 259), (56, 259), (54, 236),
           (48, 224), (45, 212)], band=5),
        # kickstand
        P([(281, 368), (299, 368), (298, 385), (291, 392), (291, 430), (295, 432), (296, 437),
           (279, 437), (282, 430), (283, 392)], band=2),
        # front: triple clamp, fork tubes, brake hose, fender + front wheel
        P([(435, 180), (489, 183), (496, 200), (493, 225), (475, 225), (451, 215), (435, 200)],
          band=5),
        L([(436, 186), (440, 195), (466, 250), (482, 285), (524, 380)], 11),
        L([(468, 225), (458, 247), (453, 259), (455, 279), (465, 295), (475, 307)], 3, band=1),
        L([(489, 192), (523, 263)], 8),
        P([(458, 297), (462, 280), (483, 270), (515, 263), (548, 270), (573, 284), (588, 301),
           (598, 313), (615, 334), (625, 359), (630, 388), (628, 404), (622, 418), (620, 425),
           (612, 437), (600, 449), (585, 454), (570, 454), (555, 451), (545, 440), (528, 430),
           (512, 417), (495, 397), (482, 373), (473, 350), (468, 330), (465, 318), (460, 306)],
          band=4),
        # headlight, instruments, turn signals
        P(E(479, 156, 29, 33), band=4),
        P([(411, 125), (426, 115), (447, 112), (460, 121), (460, 137), (440, 150), (417, 150),
           (411, 137)], band=3),
        P(E(515, 130, 12, 12), band=3),
        L([(502, 135), (510, 132)], 5),
        P(E(421, 188, 13, 14), band=3),
        # handlebar: left grip, switch housing, bar, clutch lever, right end + lever
        L([(306, 170), (338, 143)], 11),
        P([(330, 138), (342, 128), (355, 121), (367, 122), (371, 129), (364, 135), (359, 144),
           (353, 156), (342, 156), (332, 150)], band=2),
        L([(350, 128), (376, 132), (402, 144), (414, 142)], 6, band=2),
        L([(358, 149), (345, 154), (338, 163), (334, 176), (333, 194)], 4, band=1),
        P([(442, 75), (453, 75), (471, 90), (487, 98), (487, 104), (470, 104), (462, 112),
           (448, 112), (440, 95)], band=3),
        # mirrors
        P([(278, 125), (308, 110), (321, 117), (319, 125), (287, 140)], band=3),
        L([(319, 121), (370, 127)], 3, band=2),
        P([(466, 15), (472, 15), (473, 20), (465, 33), (459, 44), (455, 48), (454, 44), (459, 30)],
          band=1),
        P([(457, 37), (469, 37), (471, 44), (463, 46)], band=1),
        L([(468, 44), (462, 56), (456, 70), (450, 85)], 3, band=1),
    ], bg=[
        P([(348, 160), (360, 152), (390, 148), (390, 157), (371, 161), (351, 165)]),
        # shelf post seen between the fork tubes; wall between brake hose and fork
        P([(464, 224), (498, 224), (516, 254), (478, 256), (470, 242)]),
        P([(459, 258), (463, 258), (471, 280), (472, 292), (467, 292), (457, 276), (457, 262)]),
    ]),
]


# ----------------------------------------------------------------- helpers
def _poly_mask(shape_hw, pts):
    m = np.zeros(shape_hw, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(pts, np.float64)).astype(np.int32)], 1)
    return m


def _line_mask(shape_hw, pts, width):
    m = np.zeros(shape_hw, np.uint8)
    cv2.polylines(m, [np.round(np.asarray(pts, np.float64)).astype(np.int32)], False, 1,
                  thickness=max(1, int(round(width))), lineType=cv2.LINE_8)
    if len(pts) == 1 or width <= 1:
        for x, y in pts:
            cv2.circle(m, (int(round(x)), int(round(y))), max(0, int(width // 2)), 1, -1)
    return m


def _disk(r):
    r = int(r)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def _shape_masks(shape_hw, shape):
    """Return (core, region, halo): definite fg, probable fg, probable bg band."""
    if shape[0] == "poly":
        _, pts, band = shape
        region = _poly_mask(shape_hw, pts)
        core = cv2.erode(region, _disk(band)) if band > 0 else region.copy()
        halo = cv2.dilate(region, _disk(band)) if band > 0 else region.copy()
    else:
        _, pts, width, band = shape
        region = _line_mask(shape_hw, pts, width)
        core = _line_mask(shape_hw, pts, max(1, width - 2 * band))
        halo = _line_mask(shape_hw, pts, width + 2 * band)
    return core, region, halo


def _hint_mask(shape_hw, item):
    if item[0] == "poly":
        return _poly_mask(shape_hw, item[1])
    return _line_mask(shape_hw, item[1], item[2])


def fill_holes(m, max_hole=None):
    """Fill holes; with max_hole only those smaller than max_hole pixels."""
    h, w = m.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = m
    flood = pad.copy()
    ffmask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(flood, ffmask, (0, 0), 1)
    holes = (flood == 0)[1:-1, 1:-1].astype(np.uint8)
    if max_hole is not None:
        holes = holes - drop_small_components(holes, max_hole)
    return (m.astype(bool) | holes.astype(bool)).astype(np.uint8)


def largest_component(m):
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return m.astype(np.uint8)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (lab == k).astype(np.uint8)


def drop_small_components(m, min_area):
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    keep = [k for k in range(1, n) if stats[k, cv2.CC_STAT_AREA] >= min_area]
    return np.isin(lab, keep).astype(np.uint8)


def segment(img, obj):
    hw = img.shape[:2]
    core = np.zeros(hw, np.uint8)
    region = np.zeros(hw, np.uint8)
    halo = np.zeros(hw, np.uint8)
    for s in obj["shapes"]:
        c, r, h = _shape_masks(hw, s)
        core |= c
        region |= r
        halo |= h
    gc = np.full(hw, cv2.GC_BGD, np.uint8)
    gc[halo > 0] = cv2.GC_PR_BGD
    gc[region > 0] = cv2.GC_PR_FGD
    gc[core > 0] = cv2.GC_FGD
    for item in obj.get("bg", []):
        gc[_hint_mask(hw, item) > 0] = cv2.GC_BGD
    for item in obj.get("fg", []):
        gc[_hint_mask(hw, item) > 0] = cv2.GC_FGD
    fixed_fg = core.copy()
    for item in obj.get("bg", []):
        fixed_fg[_hint_mask(hw, item) > 0] = 0
    for item in obj.get("fg", []):
        fixed_fg |= _hint_mask(hw, item)

    cv2.setRNGSeed(0)
    bgd = np.zeros((1, 65), np.float64)
    fgd = np.zeros((1, 65), np.float64)
    cv2.grabCut(img, gc, None, bgd, fgd, obj.get("iters", 10), cv2.GC_INIT_WITH_MASK)
    m = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.uint8)

    r = obj.get("smooth", 1)
    if r > 0:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, _disk(r))
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, _disk(r))
    m |= fixed_fg  # thin hand-drawn parts (definite foreground) survive the opening
    if obj.get("keep_largest", True):
        m = largest_component(m)
    elif obj.get("min_component"):
        m = drop_small_components(m, obj["min_component"])
    if obj.get("fill_holes", True):
        m = fill_holes(m, obj.get("max_hole"))
    return m


# ------------------------------------------------------- mask -> polygons
UP = 4  # contour tracing resolution (sub-pixel, along pixel edges)


def _bridge_holes(outer, holes):
    """Join holes into the outer ring with zero-width slits (even-odd fill)."""
    ring = [tuple(p) for p in outer]
    for hole in holes:
        hole = [tuple(p) for p in hole]
        best = None
        for i, (ox, oy) in enumerate(ring):
            for j, (hx, hy) in enumerate(hole):
                d = (ox - hx) ** 2 + (oy - hy) ** 2
                if best is None or d < best[0]:
                    best = (d, i, j)
        _, i, j = best
        hole_seq = hole[j:] + hole[:j] + [hole[j]]
        ring = ring[: i + 1] + hole_seq + ring[i:]
    return ring


def mask_to_polygons(m, eps=1.0):
    h, w = m.shape
    big = cv2.resize(m.astype(np.uint8), (w * UP, h * UP), interpolation=cv2.INTER_NEAREST)
    contours, hier = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hier is None:
        return []
    hier = hier[0]

    def to_xy(c):
        c = cv2.approxPolyDP(c, eps * UP, True).reshape(-1, 2).astype(np.float64)
        # pixel-centre of a boundary sub-pixel -> nearest original pixel edge
        xy = (c + 0.5) / UP
        xy = np.where(np.abs(xy - np.round(xy)) <= 0.5 / UP + 1e-9, np.round(xy), xy)
        return np.round(xy, 1)

    polys = []
    for k, c in enumerate(contours):
        if hier[k][3] != -1:  # a hole; handled with its parent
            continue
        outer = to_xy(c)
        holes = []
        child = hier[k][2]
        while child != -1:
            hc = to_xy(contours[child])
            if len(hc) >= 3 and cv2.contourArea(hc.astype(np.float32)) >= 4:
                holes.append(hc)
            child = hier[child][0]
        if len(outer) < 3:
            continue
        ring = _bridge_holes(outer, holes) if holes else [tuple(p) for p in outer]
        polys.append([float(v) for p in ring for v in p])
    return polys


def decode(polys, h, w):
    rles = mask_utils.frPyObjects(polys, h, w)
    return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)


# ------------------------------------------------------------------- main
def build():
    images, annotations = [], []
    masks_by_name: dict[tuple[str, str], np.ndarray] = {}
    used = set()
    ann_id = 1
    views = []
    for img_id, fname in enumerate(IMAGE_FILES, start=1):
        img = cv2.imread(str(IMAGES / fname), cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        images.append({"id": img_id, "file_name": fname, "width": w, "height": h,
                       "license": IMAGE_LICENSE[fname]})
        objs = [o for o in OBJECTS if o["file"] == fname]
        done = {}
        for o in objs:  # raw masks first
            done[o["name"]] = segment(img, o)
        img_anns = []
        for o in objs:
            m = done[o["name"]].copy()
            for other in o.get("subtract", []):
                m &= 1 - done[other]
            if o.get("keep_largest", True):
                m = largest_component(m)
            elif o.get("min_component"):
                m = drop_small_components(m, o["min_component"])
            masks_by_name[(fname, o["name"])] = m
            if o["category"] is None:
                continue
            polys = mask_to_polygons(m)
            dm = decode(polys, h, w)
            rle = mask_utils.encode(np.asfortranarray(dm))
            area = float(mask_utils.area(rle))
            bbox = [float(v) for v in mask_utils.toBbox(rle)]
            cat_id = COCO_CATEGORIES[o["category"]][0]
            used.add(o["category"])
            ann = {"id": ann_id, "image_id": img_id, "category_id": cat_id,
                   "segmentation": polys, "area": area, "bbox": bbox, "iscrowd": 0}
            annotations.append(ann)
            img_anns.append((o, m, dm, ann))
            ann_id += 1
        views.append((fname, img, img_anns))
    categories = [{"id": cid, "name": name, "supercategory": sup}
                  for name, (cid, sup) in sorted(COCO_CATEGORIES.items(), key=lambda kv: kv[1][0])
                  if name in used]
    coco = {
        "info": {"description": "colorbench demo photo set (hand-checked GrabCut instance masks)",
                 "version": "1.0", "year": 2026,
                 "contributor": "colorbench", "url": ""},
        "licenses": LICENSES,
        "images": images,
        "categories": categories,
        "annotations": annotations,
    }
    return coco, views


COLORS = [(0, 255, 0), (255, 128, 0), (0, 128, 255), (255, 0, 255), (0, 255, 255), (255, 255, 0)]


def write_views(views, outdir):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    for fname, img, anns in views:
        h, w = img.shape[:2]
        ov = img.copy()
        for k, (o, m, dm, ann) in enumerate(anns):
            col = np.array(COLORS[k % len(COLORS)], np.float64)
            sel = dm > 0
            ov[sel] = (0.6 * ov[sel] + 0.4 * col).astype(np.uint8)
        s = 600.0 / w if w > 600 else 1.0
        big = cv2.resize(ov, None, fx=2 * s, fy=2 * s, interpolation=cv2.INTER_AREA if s < 0.5 else cv2.INTER_CUBIC)
        for k, (o, m, dm, ann) in enumerate(anns):
            col = COLORS[k % len(COLORS)]
            for poly in ann["segmentation"]:
                pts = np.round(np.asarray(poly).reshape(-1, 2) * 2 * s).astype(np.int32)
                cv2.polylines(big, [pts], True, (0, 0, 255), 1, cv2.LINE_AA)
            cov = ann["area"] / (w * h)
            x, y = ann["bbox"][:2]
            cv2.putText(big, f"{o['category']} {100 * cov:.1f}%", (int(x * 2 * s) + 4, int(y * 2 * s) + 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(big, f"{o['category']} {100 * cov:.1f}%", (int(x * 2 * s) + 4, int(y * 2 * s) + 20),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.7, col, 1, cv2.LINE_AA)
        small = cv2.resize(big, (int(round(w * s)), int(round(h * s))), interpolation=cv2.INTER_AREA)
        stem = Path(fname).stem
        cv2.imwrite(str(outdir / f"{stem}.png"), small)
        cv2.imwrite(str(outdir / f"{stem}_2x.png"), big)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(DATA / "annotations.json"))
    ap.add_argument("--views", default=None, help="also write overlay PNGs to this folder")
    args = ap.parse_args(argv)
    coco, views = build()
    with open(args.out, "w") as f:
        json.dump(coco, f, indent=1)
        f.write("\n")
    if args.views:
        write_views(views, args.views)
    sizes = {im["id"]: im["width"] * im["height"] for im in coco["images"]}
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    for a in coco["annotations"]:
        print(f"{a['id']:3d} {names[a['image_id']]:22s} {cats[a['category_id']]:14s} "
              f"coverage {a['area'] / sizes[a['image_id']]:.3f}")


if __name__ == "__main__":
    main()
