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
largest connected component, fill holes unless the object really has holes),
masks of objects in front are subtracted where needed (e.g. the spoon from the
cup), and the outline is converted to COCO polygons with ``cv2.findContours``
plus a light ``cv2.approxPolyDP`` (epsilon 1 px) simplification.  Contours
are traced on a 4x nearest-neighbour upsampled mask so that the polygon runs
along pixel *edges* (pycocotools' convention) rather than through pixel
centres.  ``area`` and ``bbox`` are computed from the mask that pycocotools
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
    {"id": 3, "name": "Middlebury 2014 stereo dataset (research use, see README.md)",
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
        P([(187, 22), (215, 14), (245, 18), (270, 32), (288, 50), (298, 75), (300, 100),
           (296, 120), (290, 135), (285, 150), (295, 170), (303, 195), (305, 225), (320, 240),
           (337, 250), (350, 281), (359, 325), (359, 340), (337, 353), (312, 369), (294, 400),
           (284, 437), (280, 475), (278, 515), (22, 515), (19, 406), (25, 325), (40, 275),
           (62, 250), (94, 225), (113, 206), (116, 187), (125, 169), (140, 156), (160, 148),
           (169, 134), (159, 100), (153, 62), (162, 37)], band=8),
    ]),
    # ---------------------------------------------------------------- cat
    dict(file="chelsea.png", name="cat", category="cat", shapes=[
        P([(35, -3), (33, 40), (30, 70), (20, 95), (8, 105), (-3, 115), (-3, 303), (325, 303),
           (328, 270), (332, 240), (338, 210), (344, 185), (350, 160), (354, 135), (358, 110),
           (360, 85), (364, 62), (374, 40), (386, 18), (398, -3)], band=10),
    ]),
    # ------------------------------------------------------------- coffee
    dict(file="coffee.png", name="spoon", category="spoon", smooth=0, shapes=[
        P([(416, 66), (423, 70), (425, 79), (418, 104), (411, 127), (406, 165), (394, 192),
           (390, 204), (387, 219), (386, 231), (400, 254), (406, 281), (402, 304), (388, 319),
           (365, 325), (342, 319), (329, 296), (327, 281), (335, 265), (350, 254), (369, 242),
           (376, 227), (383, 212), (390, 192), (400, 165), (404, 127), (408, 104), (410, 79)],
          band=3),
    ]),
    dict(file="coffee.png", name="cup", category="cup", subtract=["spoon"], shapes=[
        P([(173, 94), (178, 70), (192, 50), (215, 32), (250, 21), (289, 17), (330, 21),
           (365, 33), (390, 50), (405, 72), (411, 95), (409, 120), (404, 145), (397, 172),
           (388, 192), (377, 212), (365, 231), (352, 246), (335, 262), (326, 276), (309, 284),
           (280, 285), (262, 283), (250, 288), (240, 298), (226, 307), (210, 304), (199, 290),
           (197, 270), (203, 253), (216, 231), (200, 216), (189, 187), (180, 150), (175, 120)],
          band=6),
    ]),
    dict(file="coffee.png", name="saucer", category=None, shapes=[
        P(E(278, 243, 202, 148), band=8),
    ]),
    dict(file="coffee.png", name="table", category="dining table", fill_holes=False,
         subtract=["saucer", "cup", "spoon"], shapes=[
        P([(-5, 65), (200, -5), (606, -5), (606, 405), (-5, 405)], band=8),
    ]),
    # ---------------------------------------------------------- motorcycle
    dict(file="motorcycle_left.png", name="motorcycle", category="motorcycle", shapes=[
        P([(90, 203), (96, 198), (123, 199), (137, 185), (137, 160), (143, 148), (152, 144),
           (160, 150), (165, 159), (180, 158), (210, 163), (245, 171), (284, 182), (323, 188),
           (350, 189), (354, 170), (375, 158), (398, 142), (410, 136), (430, 128), (455, 120),
           (466, 113), (480, 108), (495, 108), (503, 100), (502, 92), (520, 95), (545, 99),
           (546, 104), (520, 106), (510, 110), (515, 122), (535, 120), (555, 125), (562, 120),
           (568, 117), (578, 117), (584, 128), (580, 140), (566, 142), (565, 150), (563, 170),
           (555, 183), (548, 195), (552, 212), (565, 235), (575, 262), (600, 266), (625, 278),
           (640, 295), (642, 306), (655, 318), (672, 338), (681, 360), (682, 385), (676, 410),
           (662, 432), (640, 447), (615, 452), (590, 450), (565, 440), (540, 422), (520, 398),
           (510, 372), (507, 345), (508, 325), (510, 295), (512, 280), (500, 240), (488, 205),
           (482, 225), (478, 240), (482, 275), (478, 300), (478, 340), (470, 365), (455, 372),
           (423, 380), (400, 375), (380, 370), (352, 371), (344, 428), (343, 436), (323, 436),
           (326, 428), (331, 374), (323, 372), (290, 362), (263, 360), (250, 385), (225, 397),
           (197, 400), (170, 395), (150, 388), (132, 365), (121, 340), (120, 308), (130, 275),
           (140, 255), (123, 243), (106, 230), (97, 219), (91, 210)], band=6),
        # left mirror head + stem, right mirror head + stem, brake lever
        P([(333, 124), (362, 110), (370, 120), (341, 139)], band=3),
        L([(366, 118), (397, 130)], 4),
        L([(518, 15), (505, 39)], 4, band=2),
        L([(513, 42), (504, 72), (503, 85)], 3, band=2),
        L([(500, 86), (542, 99)], 5),
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


def fill_holes(m):
    h, w = m.shape
    pad = np.zeros((h + 2, w + 2), np.uint8)
    pad[1:-1, 1:-1] = m
    flood = pad.copy()
    ffmask = np.zeros((h + 4, w + 4), np.uint8)
    cv2.floodFill(flood, ffmask, (0, 0), 1)
    holes = (flood == 0)[1:-1, 1:-1]
    return (m.astype(bool) | holes).astype(np.uint8)


def largest_component(m):
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    if n <= 1:
        return m.astype(np.uint8)
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return (lab == k).astype(np.uint8)


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
    fixed_fg = np.zeros(hw, np.uint8)
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
    m |= fixed_fg  # thin hand-drawn parts survive the opening
    if obj.get("keep_largest", True):
        m = largest_component(m)
    if obj.get("fill_holes", True):
        m = fill_holes(m)
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
                 "version": "1.0", "year": 2025,
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
